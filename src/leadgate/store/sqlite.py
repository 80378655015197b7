"""The durable ``StateStore``: one SQLite file under the state dir.

Every statement runs on one dedicated thread that owns the connection, so the event loop never
blocks on disk and concurrent tasks are serialised without locks of ours. The database is in
WAL mode: a commit is in the write-ahead log before the call returns, so it survives a kill -9
of the process (``synchronous=NORMAL`` trades only power-loss durability of the last commits,
which a redelivered Kafka record repairs). OAuth tokens are the exception: the refresh token
rotates, and losing the new one to a power cut would lock leadgate out, so ``save_tokens``
commits with ``synchronous=FULL`` (fsync) before it returns.

Several processes on one machine (processor and delivery workers) may share the file: writers
take the lock up front (``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` for each other.
Many machines need a shared backend (Redis) behind the same ``StateStore`` port.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import orjson

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store import sqlite_profiles
from leadgate.store.base import Doc, ProspectRecord, TokenSet
from leadgate.store.profile_records import decode_profile

T = TypeVar("T")

STATE_FILE = "state.sqlite3"
_BUSY_TIMEOUT_MS = 10_000
# Expired seen-ids are purged at most this often (a DELETE per mark_seen would be wasted work).
_PURGE_INTERVAL_S = 60.0
_MAX_PARAMS = sqlite_profiles.MAX_PARAMS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prospects (
    email TEXT PRIMARY KEY,
    prospect_id INTEGER NOT NULL,
    tags BLOB NOT NULL,
    attributes_hash TEXT NOT NULL,
    account_id INTEGER
);
CREATE TABLE IF NOT EXISTS accounts (
    domain TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (collection, key)
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds tokens and PII)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite does not run the busy handler for this switch, so when another
    process opens the same new file at the same moment it answers "database is locked" at
    once: retry within the busy timeout."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteStore:
    """``StateStore`` on a SQLite file; safe for concurrent tasks and across kill -9."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        anonymous_profile_idle_s: float = 30 * 24 * 3600.0,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._anon_idle_s = anonymous_profile_idle_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadgate-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._next_purge = 0.0
        self._sweeper = sqlite_profiles.Sweeper()
        # Submitted first, so it runs before any call on the single thread; a failure to open
        # is re-raised by every later call instead of surfacing as an AttributeError.
        self._opened: Future[None] = self._executor.submit(self._open)

    # -- the thread's side ---------------------------------------------------------------------

    def _open(self) -> None:
        _create_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_SCHEMA)
        # profiles, seen ids, documents (and those of an older file)
        sqlite_profiles.upgrade(conn, self._clock())
        self._conn = conn

    def _connection(self) -> sqlite3.Connection:
        self._opened.result()
        assert self._conn is not None, "opened without a connection"
        return self._conn

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _modify(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Run one statement per row in one transaction; the number of rows changed.

        Only plain values leave the thread: a cursor finalised by the garbage collector on the
        event loop's thread would race with this one (sqlite3 "API misuse").
        """
        return self._write(lambda conn: conn.executemany(sql, rows).rowcount)

    async def _call(self, fn: Callable[[], T]) -> T:
        if self._closed:
            raise RuntimeError("the state store is closed")
        return await asyncio.wrap_future(self._executor.submit(fn))

    # -- profiles ------------------------------------------------------------------------------

    async def get_profile(self, keys: Sequence[str]) -> Profile:
        """The snapshot of these identity keys: the pipeline's own merge of the profile stored
        under each (so a dry run sees exactly what the processor sees)."""
        found = await self.get_profiles(keys)
        return merge_profiles(found.get(key) for key in dict.fromkeys(keys))

    async def put_profile(self, keys: Sequence[str], profile: Profile) -> None:
        """Store ``profile`` for every key (one body, aliases for the others)."""
        await self.put_profiles(dict.fromkeys(keys, profile))

    async def get_profiles(self, keys: Sequence[str]) -> dict[str, Profile]:
        """The profile stored under each of these keys, in one statement (a key with nothing
        stored is absent; an alias is answered with its primary's body). Keys holding the same
        body share one ``Profile`` object."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        now = self._clock()
        rows = await self._call(
            lambda: sqlite_profiles.read_bodies(self._connection(), wanted, now)
        )
        parsed: dict[bytes, Profile] = {}
        out: dict[str, Profile] = {}
        for key, body in rows:
            profile = parsed.get(body)
            if profile is None:
                profile = parsed[body] = decode_profile(body)
            out[key] = profile
        return out

    async def put_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Store each profile, in one transaction: keys mapped to one ``Profile`` object are
        one visitor (one body under its ``user:`` key, aliases under the others)."""
        if not profiles:
            return
        now = self._clock()
        await self._call(
            lambda: self._write(
                lambda conn: sqlite_profiles.write_profiles(conn, profiles, now, self._anon_idle_s)
            )
        )

    async def delete_profiles(self, keys: Sequence[str]) -> int:
        """Erase the profiles under these keys and the aliases of their bodies, in one
        transaction; how many existed."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        now = self._clock()
        return await self._call(
            lambda: self._write(lambda conn: sqlite_profiles.delete_profiles(conn, wanted, now))
        )

    async def linked_identities(self, keys: Sequence[str]) -> set[str]:
        """These keys, the aliases of the bodies under them and the keys they alias."""
        wanted = list(dict.fromkeys(keys))
        return await self._call(lambda: sqlite_profiles.linked_keys(self._connection(), wanted))

    # -- seen messageIds -----------------------------------------------------------------------

    async def mark_seen(self, message_ids: Sequence[str], ttl_s: float) -> None:
        """Remember these messageIds (by digest) for ``ttl_s`` seconds, and now and then sweep
        expired rows (a slice of each table), so the file stays the size of what is live."""
        now = self._clock()
        wanted = list(dict.fromkeys(message_ids))
        sweep = now >= self._next_purge
        if sweep:
            self._next_purge = now + _PURGE_INTERVAL_S

        def write(conn: sqlite3.Connection) -> None:
            sqlite_profiles.mark_seen(conn, wanted, now + ttl_s)
            if sweep:
                self._sweeper.sweep(conn, now)
                conn.execute("DELETE FROM docs WHERE expires_at <= ?", (now,))

        await self._call(lambda: self._write(write))

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds were already processed (and not yet expired)."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return set()
        now = self._clock()
        return await self._call(lambda: sqlite_profiles.seen(self._connection(), wanted, now))

    async def purge_expired(self) -> int:
        """Delete every expired seen id, anonymous profile and document now; how many rows
        went."""
        now = self._clock()
        gone = 0
        for table in ("seen_digest", "profile", "docs"):
            sql = f"DELETE FROM {table} WHERE expires_at <= ?"  # noqa: S608 -- our own table names
            gone += await self._call(lambda sql=sql: self._modify(sql, [(now,)]))  # type: ignore[misc]
        return gone

    # -- Outreach ids --------------------------------------------------------------------------

    async def get_prospect(self, email: str) -> ProspectRecord | None:
        """What we know of the prospect with this normalised email."""

        def read() -> tuple[int, bytes, str, int | None] | None:
            row: tuple[int, bytes, str, int | None] | None = (
                self._connection()
                .execute(
                    "SELECT prospect_id, tags, attributes_hash, account_id FROM prospects "
                    "WHERE email = ?",
                    (email,),
                )
                .fetchone()
            )
            return row

        row = await self._call(read)
        if row is None:
            return None
        prospect_id, tags, attributes_hash, account_id = row
        return ProspectRecord(
            prospect_id=prospect_id,
            tags=frozenset(orjson.loads(tags)),
            attributes_hash=attributes_hash,
            account_id=account_id,
        )

    async def put_prospect(self, email: str, record: ProspectRecord) -> None:
        """Remember the prospect for this email."""
        row = (
            email,
            record.prospect_id,
            orjson.dumps(sorted(record.tags)),
            record.attributes_hash,
            record.account_id,
        )
        sql = (
            "INSERT OR REPLACE INTO prospects "
            "(email, prospect_id, tags, attributes_hash, account_id) VALUES (?, ?, ?, ?, ?)"
        )
        await self._call(lambda: self._modify(sql, [row]))

    async def forget_prospect(self, email: str) -> None:
        """Forget a prospect (e.g. Outreach answered 404 for its id)."""
        await self._call(lambda: self._modify("DELETE FROM prospects WHERE email = ?", [(email,)]))

    async def get_account(self, domain: str) -> int | None:
        """The Outreach account id for this domain, if known."""

        def read() -> int | None:
            row = (
                self._connection()
                .execute("SELECT account_id FROM accounts WHERE domain = ?", (domain,))
                .fetchone()
            )
            return None if row is None else int(row[0])

        return await self._call(read)

    async def put_account(self, domain: str, account_id: int) -> None:
        """Remember the Outreach account id for this domain."""
        sql = "INSERT OR REPLACE INTO accounts (domain, account_id) VALUES (?, ?)"
        await self._call(lambda: self._modify(sql, [(domain, account_id)]))

    # -- OAuth tokens --------------------------------------------------------------------------

    async def load_tokens(self) -> TokenSet | None:
        """The persisted OAuth tokens, if any."""

        def read() -> TokenSet | None:
            row = (
                self._connection()
                .execute("SELECT access_token, refresh_token, expires_at FROM tokens WHERE id = 1")
                .fetchone()
            )
            return None if row is None else TokenSet(row[0], row[1], float(row[2]))

        return await self._call(read)

    async def save_tokens(self, tokens: TokenSet) -> None:
        """Persist tokens durably: this one commit is fsync'd (``synchronous=FULL``) before the
        call returns, so the caller may drop the old refresh token."""
        row = (tokens.access_token, tokens.refresh_token, tokens.expires_at)

        def write() -> None:
            conn = self._connection()
            conn.execute("PRAGMA synchronous = FULL")
            try:
                self._modify(
                    "INSERT OR REPLACE INTO tokens "
                    "(id, access_token, refresh_token, expires_at) VALUES (1, ?, ?, ?)",
                    [row],
                )
            finally:
                conn.execute("PRAGMA synchronous = NORMAL")

        await self._call(write)

    # -- lifecycle -----------------------------------------------------------------------------

    # -- collections of JSON documents ---------------------------------------------------------

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key, in one read."""
        wanted = list(dict.fromkeys(keys))
        now = self._clock()

        def read() -> list[tuple[str, bytes]]:
            rows: list[tuple[str, bytes]] = []
            conn = self._connection()
            for start in range(0, len(wanted), _MAX_PARAMS):
                chunk = wanted[start : start + _MAX_PARAMS]
                marks = ",".join("?" * len(chunk))
                rows.extend(
                    conn.execute(
                        f"SELECT key, body FROM docs WHERE collection = ? AND key IN ({marks})"  # noqa: S608 -- only "?" placeholders are interpolated
                        " AND (expires_at IS NULL OR expires_at > ?)",
                        [collection, *chunk, now],
                    ).fetchall()
                )
            return rows

        return {key: orjson.loads(body) for key, body in await self._call(read)}

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key in one transaction."""
        expires = None if ttl_s is None else self._clock() + ttl_s
        rows = [(collection, key, orjson.dumps(doc), expires) for key, doc in docs.items()]
        await self._call(
            lambda: self._modify(
                "INSERT OR REPLACE INTO docs (collection, key, body, expires_at)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
        )

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` unless an unexpired document is under ``key`` (one transaction)."""
        now = self._clock()
        expires = None if ttl_s is None else now + ttl_s
        body = orjson.dumps(doc)

        def claim(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT expires_at FROM docs WHERE collection = ? AND key = ?", (collection, key)
            ).fetchone()
            if row is not None and (row[0] is None or row[0] > now):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO docs (collection, key, body, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (collection, key, body, expires),
            )
            return True

        return await self._call(lambda: self._write(claim))

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys; how many existed."""
        rows = [(collection, key) for key in dict.fromkeys(keys)]
        return await self._call(
            lambda: self._modify("DELETE FROM docs WHERE collection = ? AND key = ?", rows)
        )

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Unexpired (key, document) pairs whose key starts with ``prefix``, by key."""
        now = self._clock()
        upper = prefix + "\U0010ffff"

        def read() -> list[tuple[str, bytes]]:
            cursor = self._connection().execute(
                "SELECT key, body FROM docs WHERE collection = ? AND key >= ? AND key < ?"
                " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?",
                (collection, prefix, upper, now, limit),
            )
            return list(cursor.fetchall())

        return [(key, orjson.loads(body)) for key, body in await self._call(read)]

    async def incr(self, collection: str, key: str, *, by: int = 1) -> int:
        """Atomically add ``by`` to the counter under ``key``."""

        def bump(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT INTO counters (collection, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (collection, key) DO UPDATE SET value = value + excluded.value",
                (collection, key, by),
            )
            row = conn.execute(
                "SELECT value FROM counters WHERE collection = ? AND key = ?", (collection, key)
            ).fetchone()
            return int(row[0])

        return await self._call(lambda: self._write(bump))

    async def close(self) -> None:
        """Close the connection and stop the store's thread; later calls raise."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.wrap_future(self._executor.submit(shut))
        self._executor.shutdown(wait=False)


async def open_store(
    state_dir: Path, anonymous_profile_idle_s: float = 30 * 24 * 3600.0
) -> SqliteStore:
    """Open (creating if needed) the state store under ``state_dir``; fails now, not later, if
    the file cannot be opened."""
    store = SqliteStore(
        Path(state_dir) / STATE_FILE, anonymous_profile_idle_s=anonymous_profile_idle_s
    )
    try:
        await store._call(store._opened.result)
    except BaseException:
        await store.close()
        raise
    return store
