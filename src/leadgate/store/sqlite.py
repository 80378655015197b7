"""The durable ``StateStore``: one SQLite file under the state dir.

Writes run on one dedicated thread that owns the writing connection, so the event loop never
waits for the write lock and concurrent tasks are serialised without locks of ours; small reads
run inline on the event loop over a read-only connection (``store/sqlite_access.py`` says why
and when). The database is in WAL mode: a commit is in the write-ahead log before the call
returns, so it survives a kill -9 of the process (``synchronous=NORMAL`` trades only
power-loss durability of the last commits, which a redelivered Kafka record repairs). OAuth
tokens are the exception: the refresh token rotates, and losing the new one to a power cut
would lock leadgate out, so ``save_tokens`` commits with ``synchronous=FULL`` (fsync) before
it returns.

Several processes on one machine (processor and delivery workers) may share the file: writers
take the lock up front (``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` for each other.
Many machines need a shared backend (Redis) behind the same ``StateStore`` port.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import orjson

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store import sqlite_docs, sqlite_outreach, sqlite_profiles
from leadgate.store.base import Doc, ProspectRecord, TokenSet
from leadgate.store.profile_records import decode_profile
from leadgate.store.sqlite_access import SqliteAccess

STATE_FILE = "state.sqlite3"
# Expired seen-ids are purged at most this often (a DELETE per mark_seen would be wasted work).
_PURGE_INTERVAL_S = 60.0


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
        self._next_purge = 0.0
        self._sweeper = sqlite_profiles.Sweeper()
        self._db = SqliteAccess(self.path, self._prepare)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """The schema (on the store's thread, before any other call)."""
        conn.executescript(sqlite_outreach.SCHEMA)
        # profiles, seen ids, documents (and those of an older file)
        sqlite_profiles.upgrade(conn, self._clock())

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
        rows = await self._db.read(
            lambda conn: sqlite_profiles.read_bodies(conn, wanted, now), keys=len(wanted)
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
        await self._db.call(
            lambda: self._db.write(
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
        return await self._db.call(
            lambda: self._db.write(lambda conn: sqlite_profiles.delete_profiles(conn, wanted, now))
        )

    async def linked_identities(self, keys: Sequence[str]) -> set[str]:
        """These keys, the aliases of the bodies under them and the keys they alias."""
        wanted = list(dict.fromkeys(keys))
        return await self._db.read(
            lambda conn: sqlite_profiles.linked_keys(conn, wanted), keys=len(wanted)
        )

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

        await self._db.call(lambda: self._db.write(write))

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds were already processed (and not yet expired)."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return set()
        now = self._clock()
        return await self._db.read(
            lambda conn: sqlite_profiles.seen(conn, wanted, now), keys=len(wanted)
        )

    async def purge_expired(self) -> int:
        """Delete every expired seen id, anonymous profile and document now; how many rows
        went."""
        now = self._clock()
        gone = 0
        for table in ("seen_digest", "profile", "docs"):
            sql = f"DELETE FROM {table} WHERE expires_at <= ?"  # noqa: S608 -- our own table names
            gone += await self._db.call(lambda sql=sql: self._db.modify(sql, [(now,)]))  # type: ignore[misc]
        return gone

    # -- Outreach ids --------------------------------------------------------------------------

    async def get_prospect(self, email: str) -> ProspectRecord | None:
        """What we know of the prospect with this normalised email."""
        return await self._db.read(lambda conn: sqlite_outreach.read_prospect(conn, email))

    async def put_prospect(self, email: str, record: ProspectRecord) -> None:
        """Remember the prospect for this email."""
        row = sqlite_outreach.prospect_row(email, record)
        await self._db.call(lambda: self._db.modify(sqlite_outreach.PUT_PROSPECT, [row]))

    async def forget_prospect(self, email: str) -> None:
        """Forget a prospect (e.g. Outreach answered 404 for its id)."""
        await self._db.call(lambda: self._db.modify(sqlite_outreach.FORGET_PROSPECT, [(email,)]))

    async def get_account(self, domain: str) -> int | None:
        """The Outreach account id for this domain, if known."""
        return await self._db.read(lambda conn: sqlite_outreach.read_account(conn, domain))

    async def put_account(self, domain: str, account_id: int) -> None:
        """Remember the Outreach account id for this domain."""
        row = (domain, account_id)
        await self._db.call(lambda: self._db.modify(sqlite_outreach.PUT_ACCOUNT, [row]))

    async def forget_account(self, domain: str) -> None:
        """Forget the account id of this domain (Outreach no longer has that account)."""
        await self._db.call(lambda: self._db.modify(sqlite_outreach.FORGET_ACCOUNT, [(domain,)]))

    # -- OAuth tokens --------------------------------------------------------------------------

    async def load_tokens(self) -> TokenSet | None:
        """The persisted OAuth tokens, if any."""
        return await self._db.read(sqlite_outreach.read_tokens)

    async def save_tokens(self, tokens: TokenSet) -> None:
        """Persist tokens durably: this one commit is fsync'd (``synchronous=FULL``) before the
        call returns, so the caller may drop the old refresh token."""
        row = (tokens.access_token, tokens.refresh_token, tokens.expires_at)

        def write() -> None:
            conn = self._db.connection()
            conn.execute("PRAGMA synchronous = FULL")
            try:
                self._db.modify(sqlite_outreach.PUT_TOKENS, [row])
            finally:
                conn.execute("PRAGMA synchronous = NORMAL")

        await self._db.call(write)

    # -- collections of JSON documents ---------------------------------------------------------

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key, in one read."""
        wanted = list(dict.fromkeys(keys))
        now = self._clock()
        rows = await self._db.read(
            lambda conn: sqlite_docs.read(conn, collection, wanted, now), keys=len(wanted)
        )
        return {key: orjson.loads(body) for key, body in rows}

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key in one transaction."""
        expires = None if ttl_s is None else self._clock() + ttl_s
        rows = [(collection, key, orjson.dumps(doc), expires) for key, doc in docs.items()]
        await self._db.call(lambda: self._db.modify(sqlite_docs.PUT, rows))

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` unless an unexpired document is under ``key`` (one transaction)."""
        now = self._clock()
        expires = None if ttl_s is None else now + ttl_s
        body = orjson.dumps(doc)
        return await self._db.call(
            lambda: self._db.write(
                lambda conn: sqlite_docs.claim(conn, collection, key, body, expires, now)
            )
        )

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys; how many existed."""
        rows = [(collection, key) for key in dict.fromkeys(keys)]
        return await self._db.call(lambda: self._db.modify(sqlite_docs.DELETE, rows))

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Unexpired (key, document) pairs whose key starts with ``prefix``, by key."""
        now = self._clock()
        rows = await self._db.read(
            lambda conn: sqlite_docs.scan(conn, collection, prefix, limit, now), keys=limit
        )
        return [(key, orjson.loads(body)) for key, body in rows]

    async def incr(self, collection: str, key: str, *, by: int = 1) -> int:
        """Atomically add ``by`` to the counter under ``key``."""
        return await self._db.call(
            lambda: self._db.write(lambda conn: sqlite_docs.bump(conn, collection, key, by))
        )

    async def close(self) -> None:
        """Close the connections and stop the store's thread; later calls raise."""
        await self._db.close()


async def open_store(
    state_dir: Path, anonymous_profile_idle_s: float = 30 * 24 * 3600.0
) -> SqliteStore:
    """Open (creating if needed) the state store under ``state_dir``; fails now, not later, if
    the file cannot be opened."""
    store = SqliteStore(
        Path(state_dir) / STATE_FILE, anonymous_profile_idle_s=anonymous_profile_idle_s
    )
    try:
        await store._db.call(store._db.opened.result)
    except BaseException:
        await store.close()
        raise
    return store
