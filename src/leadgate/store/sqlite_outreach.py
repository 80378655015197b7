"""Outreach ids and the OAuth token pair in the SQLite state file: their tables and SQL.

Every function takes the connection to run on (reads: either connection; writes: the writing
one, ``store/sqlite_access.py``).
"""

from __future__ import annotations

import sqlite3

import orjson

from leadgate.store.base import ProspectRecord, TokenSet

SCHEMA = """
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

PUT_PROSPECT = (
    "INSERT OR REPLACE INTO prospects "
    "(email, prospect_id, tags, attributes_hash, account_id) VALUES (?, ?, ?, ?, ?)"
)
FORGET_PROSPECT = "DELETE FROM prospects WHERE email = ?"
PUT_ACCOUNT = "INSERT OR REPLACE INTO accounts (domain, account_id) VALUES (?, ?)"
FORGET_ACCOUNT = "DELETE FROM accounts WHERE domain = ?"
PUT_TOKENS = (
    "INSERT OR REPLACE INTO tokens (id, access_token, refresh_token, expires_at)"
    " VALUES (1, ?, ?, ?)"
)


def read_prospect(conn: sqlite3.Connection, email: str) -> ProspectRecord | None:
    """What we know of the prospect with this normalised email."""
    row = conn.execute(
        "SELECT prospect_id, tags, attributes_hash, account_id FROM prospects WHERE email = ?",
        (email,),
    ).fetchone()
    if row is None:
        return None
    prospect_id, tags, attributes_hash, account_id = row
    return ProspectRecord(
        prospect_id=prospect_id,
        tags=frozenset(orjson.loads(tags)),
        attributes_hash=attributes_hash,
        account_id=account_id,
    )


def prospect_row(email: str, record: ProspectRecord) -> tuple[object, ...]:
    """The ``prospects`` row of ``record`` (``PUT_PROSPECT``'s parameters)."""
    tags = orjson.dumps(sorted(record.tags))
    return (email, record.prospect_id, tags, record.attributes_hash, record.account_id)


def read_account(conn: sqlite3.Connection, domain: str) -> int | None:
    """The Outreach account id for this domain, if known."""
    row = conn.execute("SELECT account_id FROM accounts WHERE domain = ?", (domain,)).fetchone()
    return None if row is None else int(row[0])


def read_tokens(conn: sqlite3.Connection) -> TokenSet | None:
    """The persisted OAuth token pair, if any."""
    row = conn.execute(
        "SELECT access_token, refresh_token, expires_at FROM tokens WHERE id = 1"
    ).fetchone()
    return None if row is None else TokenSet(row[0], row[1], float(row[2]))
