"""Collections of JSON documents and counters in the SQLite state file: the SQL behind
``get_docs``/``put_docs``/``put_doc_if_absent``/``delete_docs``/``scan_docs``/``incr``.

Every function takes the connection to run on (reads: either connection; writes: inside the
caller's transaction on the writing one, ``store/sqlite_access.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from leadgate.store.sqlite_profiles import MAX_PARAMS

PUT = "INSERT OR REPLACE INTO docs (collection, key, body, expires_at) VALUES (?, ?, ?, ?)"
DELETE = "DELETE FROM docs WHERE collection = ? AND key = ?"


def read(
    conn: sqlite3.Connection, collection: str, keys: Sequence[str], now: float
) -> list[tuple[str, bytes]]:
    """(key, body) of the unexpired documents under these keys (one statement per 900)."""
    rows: list[tuple[str, bytes]] = []
    for start in range(0, len(keys), MAX_PARAMS):
        chunk = keys[start : start + MAX_PARAMS]
        marks = ",".join("?" * len(chunk))
        rows.extend(
            conn.execute(
                f"SELECT key, body FROM docs WHERE collection = ? AND key IN ({marks})"  # noqa: S608 -- only "?" placeholders are interpolated
                " AND (expires_at IS NULL OR expires_at > ?)",
                [collection, *chunk, now],
            ).fetchall()
        )
    return rows


def scan(
    conn: sqlite3.Connection, collection: str, prefix: str, limit: int, now: float
) -> list[tuple[str, bytes]]:
    """Unexpired (key, body) pairs whose key starts with ``prefix``, by key."""
    upper = prefix + "\U0010ffff"
    cursor = conn.execute(
        "SELECT key, body FROM docs WHERE collection = ? AND key >= ? AND key < ?"
        " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?",
        (collection, prefix, upper, now, limit),
    )
    return list(cursor.fetchall())


def claim(
    conn: sqlite3.Connection,
    collection: str,
    key: str,
    body: bytes,
    expires: float | None,
    now: float,
) -> bool:
    """Store ``body`` unless an unexpired document is under ``key`` (inside a transaction)."""
    row = conn.execute(
        "SELECT expires_at FROM docs WHERE collection = ? AND key = ?", (collection, key)
    ).fetchone()
    if row is not None and (row[0] is None or row[0] > now):
        return False
    conn.execute(PUT, (collection, key, body, expires))
    return True


def bump(conn: sqlite3.Connection, collection: str, key: str, by: int) -> int:
    """Add ``by`` to the counter under ``key`` (inside a transaction); its new value."""
    conn.execute(
        "INSERT INTO counters (collection, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (collection, key) DO UPDATE SET value = value + excluded.value",
        (collection, key, by),
    )
    row = conn.execute(
        "SELECT value FROM counters WHERE collection = ? AND key = ?", (collection, key)
    ).fetchone()
    return int(row[0])
