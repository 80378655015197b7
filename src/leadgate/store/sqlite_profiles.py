"""Profiles and seen messageIds in the SQLite state file (``store/profile_records.py`` says what
is stored; this module says how, and upgrades a file of the previous layout).

Tables (``WITHOUT ROWID``: the key is the row, stored once):

- ``profile (key, body, link, expires_at)``: a body row (``body`` set, ``link`` the JSON list of
  its aliases or NULL) or an alias row (``body`` NULL, ``link`` the primary key); ``expires_at``
  whole epoch seconds for ``anon:`` keys, NULL for kept ones.
- ``seen_digest (digest, expires_at)``: the 64-bit digest of each remembered messageId.

Expired rows are invisible to reads at once and deleted by a sweep that visits the next slice
of each table in key order now and then (``sweep``), so no expiry index is kept. A file of the
previous layout (``profiles`` and ``seen`` tables, a rowid ``docs`` table) is converted in place
when opened (``upgrade``), in one transaction: nothing is lost, and a second process opening it
at the same moment waits and finds it converted.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

import orjson

from leadgate.domain.profile import Profile
from leadgate.store.profile_records import (
    ANONYMOUS,
    USER,
    encode_profile,
    merge_aliases,
    plan_writes,
    seen_digest,
)

# Host parameters per statement: SQLite builds before 3.32 allow no more than 999.
MAX_PARAMS = 900
# Rows of each table one sweep visits.
SWEEP_ROWS = 20_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS profile (
    key TEXT PRIMARY KEY,
    body BLOB,
    link TEXT,
    expires_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_digest (
    digest INTEGER PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"""

_DOCS = """
CREATE TABLE docs (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    expires_at REAL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
"""


def _table_sql(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def upgrade(conn: sqlite3.Connection, now: float) -> None:
    """Create the tables, converting those of the previous layout (one transaction)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if _table_sql(conn, "profiles") is not None:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(profiles)")}
            # whole seconds, rounded up (SQLite's ceil() is not in every build)
            expiry = (
                "CAST(expires_at AS INTEGER) + (expires_at > CAST(expires_at AS INTEGER))"
                if "expires_at" in columns
                else "NULL"
            )
            copy = f"SELECT key, body, NULL, {expiry} FROM profiles"  # noqa: S608 -- our own SQL
            conn.execute("INSERT OR REPLACE INTO profile (key, body, link, expires_at) " + copy)
            conn.execute("DROP TABLE profiles")
        if _table_sql(conn, "seen") is not None:  # unexpired ids, a slice at a time
            old = conn.execute(
                "SELECT message_id, expires_at FROM seen WHERE expires_at > ?", (now,)
            )
            while rows := old.fetchmany(10_000):
                conn.executemany(
                    "INSERT OR REPLACE INTO seen_digest (digest, expires_at) VALUES (?, ?)",
                    [(seen_digest(m), math.ceil(e)) for m, e in rows],
                )
            conn.execute("DROP TABLE seen")
        docs = _table_sql(conn, "docs")
        if docs is None:
            conn.execute(_DOCS)
        elif "WITHOUT ROWID" not in docs.upper():
            conn.execute("DROP INDEX IF EXISTS docs_expiry")
            conn.execute("ALTER TABLE docs RENAME TO docs_rowid")
            conn.execute(_DOCS)
            conn.execute(
                "INSERT INTO docs SELECT collection, key, body, expires_at FROM docs_rowid"
            )
            conn.execute("DROP TABLE docs_rowid")
        conn.execute(
            "CREATE INDEX IF NOT EXISTS docs_expiry ON docs (expires_at)"
            " WHERE expires_at IS NOT NULL"
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _chunks(items: Sequence[object]) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), MAX_PARAMS):
        yield items[start : start + MAX_PARAMS]


def read_bodies(
    conn: sqlite3.Connection, keys: Sequence[str], now: float
) -> list[tuple[str, bytes]]:
    """(key, body) of each live key, an alias answered with its primary's body (one statement
    per 900 keys: the hop is a join)."""
    found: list[tuple[str, bytes]] = []
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        where = f" WHERE p.key IN ({marks}) AND (p.expires_at IS NULL OR p.expires_at > ?)"
        rows = conn.execute(
            "SELECT p.key, coalesce(p.body, t.body) FROM profile p"  # noqa: S608 -- only "?" placeholders are interpolated
            " LEFT JOIN profile t ON p.body IS NULL AND t.key = p.link"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)" + where,
            [now, *chunk, now],
        )
        found.extend((key, body) for key, body in rows if body is not None)
    return found


def _links(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, tuple[bytes | None, str]]:
    """key -> (body, link) of the rows under these keys that have a link."""
    out: dict[str, tuple[bytes | None, str]] = {}
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT key, body, link FROM profile WHERE key IN ({marks}) AND link IS NOT NULL",  # noqa: S608 -- only "?" placeholders are interpolated
            list(chunk),
        )
        out.update((key, (body, link)) for key, body, link in rows)
    return out


def write_profiles(
    conn: sqlite3.Connection, profiles: Mapping[str, Profile], now: float, anon_idle_s: float
) -> None:
    """Store a batch (inside the caller's transaction): bodies with their merged alias lists,
    then the aliases."""
    bodies, aliases = plan_writes(profiles)
    until = math.ceil(now + anon_idle_s)
    linked = [b.key for b in bodies if b.key.startswith(USER)]  # only they have aliases
    old = _links(conn, linked) if linked else {}
    encoded: dict[int, bytes] = {}
    rows: list[tuple[str, bytes | None, str | None, int | None]] = []
    for write in bodies:
        body = encoded.get(id(write.profile))
        if body is None:
            body = encoded[id(write.profile)] = encode_profile(write.profile)
        previous = old.get(write.key)
        known = orjson.loads(previous[1]) if previous and previous[0] is not None else []
        merged = merge_aliases(known, write.aliases)
        link = orjson.dumps(merged).decode() if merged else None
        expiry = until if write.key.startswith(ANONYMOUS) else None
        rows.append((write.key, body, link, expiry))
    rows.extend((alias, None, primary, until) for alias, primary in aliases.items())
    conn.executemany(
        "INSERT OR REPLACE INTO profile (key, body, link, expires_at) VALUES (?, ?, ?, ?)", rows
    )


def linked_keys(conn: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    """These keys, the aliases of the bodies under them and the primaries they alias."""
    out = set(keys)
    for body, link in _links(conn, list(out)).values():
        if body is None:
            out.add(link)
        else:
            out.update(orjson.loads(link))
    for body, link in _links(conn, sorted(out - set(keys))).values():
        if body is not None:
            out.update(orjson.loads(link))
    return out


def delete_profiles(conn: sqlite3.Connection, keys: Sequence[str], now: float) -> int:
    """Delete these keys and the aliases of the bodies among them (those still pointing at
    them); how many live rows went."""
    wanted = list(dict.fromkeys(keys))
    doomed = set(wanted)
    for key, (body, link) in _links(conn, wanted).items():
        if body is not None:
            for alias, (alias_body, target) in _links(conn, orjson.loads(link)).items():
                if alias_body is None and target == key:
                    doomed.add(alias)
    gone = 0
    for chunk in _chunks(sorted(doomed)):
        marks = ",".join("?" * len(chunk))
        gone += conn.execute(
            f"DELETE FROM profile WHERE key IN ({marks})"  # noqa: S608 -- only "?" placeholders are interpolated
            " AND (expires_at IS NULL OR expires_at > ?)",
            [*chunk, now],
        ).rowcount
        conn.execute(f"DELETE FROM profile WHERE key IN ({marks})", list(chunk))  # noqa: S608 -- only "?" placeholders are interpolated
    return gone


def mark_seen(conn: sqlite3.Connection, message_ids: Iterable[str], expires_at: float) -> None:
    """Remember these messageIds until ``expires_at`` (inside the caller's transaction)."""
    until = math.ceil(expires_at)
    conn.executemany(
        "INSERT OR REPLACE INTO seen_digest (digest, expires_at) VALUES (?, ?)",
        [(seen_digest(m), until) for m in message_ids],
    )


def seen(conn: sqlite3.Connection, message_ids: Sequence[str], now: float) -> set[str]:
    """Which of these messageIds are remembered and unexpired."""
    by_digest = {seen_digest(m): m for m in message_ids}
    digests = list(by_digest)
    found: set[str] = set()
    for chunk in _chunks(digests):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT digest FROM seen_digest WHERE digest IN ({marks}) AND expires_at > ?",  # noqa: S608 -- only "?" placeholders are interpolated
            [*chunk, now],
        )
        found.update(by_digest[row[0]] for row in rows)
    return found


class Sweeper:
    """Deletes expired rows a slice at a time, going round each table in key order."""

    def __init__(self) -> None:
        # where the next slice of each table starts (None: at its first row)
        self._after: dict[str, object] = {}

    def sweep(self, conn: sqlite3.Connection, now: float) -> int:
        """Delete the expired rows among the next ``SWEEP_ROWS`` of each table (inside the
        caller's transaction); how many went."""
        return self._slice(conn, "profile", "key", now) + self._slice(
            conn, "seen_digest", "digest", now
        )

    def _slice(self, conn: sqlite3.Connection, table: str, column: str, now: float) -> int:
        for _ in range(2):  # past the last row: start again at the first
            after = self._after.get(table)
            bound = f"{column} > ?" if after is not None else "? IS NULL"
            last = conn.execute(
                f"SELECT max({column}) FROM (SELECT {column} FROM {table} WHERE {bound}"  # noqa: S608 -- our own names
                f" ORDER BY {column} LIMIT ?)",
                (after, SWEEP_ROWS),
            ).fetchone()[0]
            self._after[table] = last
            if last is not None:
                return int(
                    conn.execute(
                        f"DELETE FROM {table} WHERE {bound} AND {column} <= ?"  # noqa: S608 -- our own names
                        " AND expires_at <= ?",
                        (after, last, now),
                    ).rowcount
                )
            if after is None:
                break
        return 0
