"""The trace store's file: ``traces.sqlite3`` in the state dir, owner-only, bounded in size and age.

Two tables: ``traces`` holds one folded trace per messageId (its body, when it last changed and
the salted key of its email, never the address), ``forgotten`` the hashes of forgotten people and,
under ``message:``, the erased messageIds whose later records are refused. ``TraceStore``
(``store/traces.py``) decides what is kept; this module only reads and writes the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import orjson

from leadgate.store.trace_entry import TraceEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    message_id TEXT PRIMARY KEY,
    updated REAL NOT NULL,
    email_key TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_updated ON traces (updated);
CREATE TABLE IF NOT EXISTS forgotten (
    hash TEXT PRIMARY KEY,
    at REAL NOT NULL
);
"""
# The forgotten table holds person hashes and, under this prefix, erased messageIds.
_GONE_PREFIX = "message:"


class TraceFile:
    """One open ``traces.sqlite3`` (created owner-only, with its directory, when missing)."""

    def __init__(self, path: Path) -> None:
        self._db: sqlite3.Connection | None = _open_db(path)

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "the trace file is closed"
        return self._db

    def save(self, entry: TraceEntry) -> None:
        """Write ``entry`` (insert or replace its row)."""
        body = orjson.dumps(entry.to_state())
        with self._conn() as db:
            db.execute(
                "INSERT INTO traces (message_id, updated, email_key, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (message_id) DO UPDATE SET updated = excluded.updated, "
                "email_key = excluded.email_key, body = excluded.body",
                (entry.message_id, entry.updated, entry.email_key, body),
            )

    def prune(self, horizon: float, max_events: int) -> None:
        """Delete traces last changed before ``horizon`` and all but the newest ``max_events``."""
        with self._conn() as db:
            db.execute("DELETE FROM traces WHERE updated < ?", (horizon,))
            # An erased messageId older than the traces kept can no longer come back.
            db.execute(
                "DELETE FROM forgotten WHERE hash LIKE ? AND at < ?", (_GONE_PREFIX + "%", horizon)
            )
            db.execute(
                "DELETE FROM traces WHERE message_id NOT IN "
                "(SELECT message_id FROM traces ORDER BY updated DESC LIMIT ?)",
                (max_events,),
            )

    def forgotten(self) -> tuple[set[str], set[str]]:
        """The forgotten people's hashes and the erased messageIds."""
        people: set[str] = set()
        gone: set[str] = set()
        for (value,) in self._conn().execute("SELECT hash FROM forgotten"):
            if value.startswith(_GONE_PREFIX):
                gone.add(value.removeprefix(_GONE_PREFIX))
            else:
                people.add(value)
        return people, gone

    def newest(self, limit: int) -> list[TraceEntry]:
        """The ``limit`` most recently changed traces, oldest first."""
        rows = (
            self._conn()
            .execute("SELECT body FROM traces ORDER BY updated DESC LIMIT ?", (limit,))
            .fetchall()
        )
        return [TraceEntry.from_state(orjson.loads(body)) for (body,) in reversed(rows)]

    def traces(self, skip: Callable[[str], bool]) -> Iterator[TraceEntry]:
        """Every trace on file whose messageId ``skip`` does not name (read row by row)."""
        for message_id, body in self._conn().execute("SELECT message_id, body FROM traces"):
            if not skip(message_id):
                yield TraceEntry.from_state(orjson.loads(body))

    def erase(self, message_ids: list[str], now: float) -> None:
        """Delete these traces and remember their messageIds as erased."""
        with self._conn() as db:
            db.executemany("DELETE FROM traces WHERE message_id = ?", [(m,) for m in message_ids])
            db.executemany(
                "INSERT OR IGNORE INTO forgotten (hash, at) VALUES (?, ?)",
                [(_GONE_PREFIX + m, now) for m in message_ids],
            )

    def forget(self, hashes: Collection[str], now: float) -> None:
        """Remember these people's hashes as forgotten."""
        with self._conn() as db:
            db.executemany(
                "INSERT OR IGNORE INTO forgotten (hash, at) VALUES (?, ?)",
                [(h, now) for h in sorted(hashes)],
            )

    def allow(self, hashes: Collection[str]) -> None:
        """Forget that these people were forgotten."""
        with self._conn() as db:
            db.executemany("DELETE FROM forgotten WHERE hash = ?", [(h,) for h in hashes])

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _open_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(_SCHEMA)
    db.isolation_level = "DEFERRED"
    return db
