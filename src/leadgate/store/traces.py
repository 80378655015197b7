"""The inspector's trace store: the last N events / H hours, in memory and in SQLite.

Records arrive from ``leadgate.traces`` (and the raw events from ``leadgate.events``) in any
order: the processor's trace (stages, normalised fields, drop reason), then one delivery record
per attempt group (``{"messageId", "stage": "delivery", "outcome", "reason", "prospectId",
"action", "exchanges", "at"}``). ``TraceEntry`` folds them per messageId into one view whose
final outcome is the newest final delivery record, else the processor's drop, else ``pending``.

Memory serves the API; SQLite (``traces.sqlite3`` in the state dir, owner-only) lets a restarted
inspector and ``leadgate presets diff`` see recent events. It is protected like the state store
(owner-only file in an owner-only directory, bounded in size and age); emails are matched through
a salted hash of the normalised address (``store.email_index``), never a plain address index.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from leadgate.observability.metrics import INSPECTOR_TRACES
from leadgate.store.email_index import EmailIndex
from leadgate.store.trace_entry import TraceEntry, normalize_email, parse_time

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
_PRUNE_EVERY = 200
# The forgotten table holds person hashes and, under this prefix, erased messageIds.
_GONE_PREFIX = "message:"
_MAX_GONE = 100_000


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Filters of ``GET /inspector/api/events`` (all optional; newest first)."""

    email: str | None = None
    event: str | None = None
    outcome: str | None = None
    reason: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100


class TraceStore:
    """Bounded, folded traces; ``subscribe()`` yields each change for the live page."""

    def __init__(
        self,
        state_dir: Path | None,
        *,
        max_events: int = 10_000,
        max_age_s: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        email_index: EmailIndex | None = None,
        person_hash: Callable[[str], str] | None = None,
    ) -> None:
        self.max_events = max_events
        self.max_age_s = max_age_s
        self._clock = clock
        self._entries: OrderedDict[str, TraceEntry] = OrderedDict()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._writes = 0
        self._db: sqlite3.Connection | None = None
        self._index = email_index or EmailIndex(b"in-memory")
        # Forgetting: the salted hash of an identifier (``store.suppression.PersonHasher``) and
        # the hashes of forgotten people, whose records are refused from then on.
        self._person_hash = person_hash
        self._forgotten: set[str] = set()
        # Events erased as a forgotten person's: their later records are refused too (one
        # record of an event may name the person while another, arriving later, does not).
        self._gone: set[str] = set()
        if state_dir is not None:
            self._index = email_index or EmailIndex.from_state_dir(state_dir)
            self._db = _open_db(state_dir / "traces.sqlite3")
            self._load()

    # -- writing -------------------------------------------------------------------------------

    def add_trace(self, record: dict[str, Any]) -> TraceEntry | None:
        """Fold one record from the traces topic; returns the updated entry (None if unusable)."""
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id or message_id in self._gone:
            return None
        entry = self._entry(message_id)
        entry.fold(record, self._clock())
        return self._saved(entry)

    def add_event(self, message_id: str, raw: bytes) -> TraceEntry | None:
        """Keep the raw event (for replays and the detail pane) next to its trace; None for an
        event of a forgotten person."""
        if message_id in self._gone:
            return None
        if self._forgotten and message_id not in self._entries:
            # A new event of a forgotten person: its raw copy is never kept, but its (PII-free)
            # ``suppressed`` trace may still come, whichever topic the inspector reads first.
            probe = TraceEntry(message_id=message_id, first_seen=0.0)
            probe.set_raw(raw, 0.0)
            if self._is_forgotten(probe):
                return None
        entry = self._entry(message_id)
        entry.set_raw(raw, self._clock())
        return self._saved(entry)

    def _entry(self, message_id: str) -> TraceEntry:
        entry = self._entries.get(message_id)
        if entry is None:
            entry = TraceEntry(message_id=message_id, first_seen=self._clock())
            self._entries[message_id] = entry
        else:
            self._entries.move_to_end(message_id)
        return entry

    def _saved(self, entry: TraceEntry) -> TraceEntry:
        if self._forgotten and self._is_forgotten(entry):
            self._drop([entry.message_id])
            return entry
        if entry.email and entry.email_key is None:
            entry.email_key = self._index.email_key(entry.email)
        self._persist(entry)
        self._evict()
        INSPECTOR_TRACES.set(len(self._entries))
        summary = entry.summary()
        for queue in tuple(self._subscribers):
            if not queue.full():
                queue.put_nowait(summary)
        return entry

    def _persist(self, entry: TraceEntry) -> None:
        if self._db is None:
            return
        body = orjson.dumps(entry.to_state())
        with self._db:
            self._db.execute(
                "INSERT INTO traces (message_id, updated, email_key, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (message_id) DO UPDATE SET updated = excluded.updated, "
                "email_key = excluded.email_key, body = excluded.body",
                (entry.message_id, entry.updated, entry.email_key, body),
            )
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            self._prune_db()

    def _evict(self) -> None:
        horizon = self._clock() - self.max_age_s
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if len(self._entries) <= self.max_events and oldest.updated >= horizon:
                break
            del self._entries[oldest.message_id]

    def _prune_db(self) -> None:
        if self._db is None:
            return
        horizon = self._clock() - self.max_age_s
        with self._db:
            self._db.execute("DELETE FROM traces WHERE updated < ?", (horizon,))
            # An erased messageId older than the traces kept can no longer come back.
            self._db.execute(
                "DELETE FROM forgotten WHERE hash LIKE ? AND at < ?", (_GONE_PREFIX + "%", horizon)
            )
            self._db.execute(
                "DELETE FROM traces WHERE message_id NOT IN "
                "(SELECT message_id FROM traces ORDER BY updated DESC LIMIT ?)",
                (self.max_events,),
            )

    # -- forgetting ----------------------------------------------------------------------------

    def _is_forgotten(self, entry: TraceEntry) -> bool:
        hashed = self._person_hash
        return hashed is not None and any(hashed(i) in self._forgotten for i in entry.identifiers())

    def _drop(self, message_ids: list[str]) -> None:
        if len(self._gone) >= _MAX_GONE:
            self._gone.clear()
        for message_id in message_ids:
            self._entries.pop(message_id, None)
            self._gone.add(message_id)
        if self._db is not None and message_ids:
            now = self._clock()
            with self._db:
                self._db.executemany(
                    "DELETE FROM traces WHERE message_id = ?", [(m,) for m in message_ids]
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO forgotten (hash, at) VALUES (?, ?)",
                    [(_GONE_PREFIX + m, now) for m in message_ids],
                )
        INSPECTOR_TRACES.set(len(self._entries))

    def forget(self, hashes: Collection[str]) -> int:
        """Erase every trace (memory and disk) of the people with these identifier hashes, and
        refuse their records from now on; how many traces were erased."""
        if self._person_hash is None or not hashes:
            return 0
        fresh = set(hashes) - self._forgotten
        self._forgotten.update(hashes)
        if self._db is not None and fresh:
            now = self._clock()
            with self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO forgotten (hash, at) VALUES (?, ?)",
                    [(h, now) for h in sorted(fresh)],
                )
        doomed = [m for m, entry in self._entries.items() if self._is_forgotten(entry)]
        doomed.extend(self._forgotten_on_disk(set(doomed)))
        self._drop(doomed)
        return len(doomed)

    def _forgotten_on_disk(self, known: set[str]) -> list[str]:
        """Traces on disk that memory no longer holds but that belong to a forgotten person."""
        if self._db is None:
            return []
        found: list[str] = []
        for message_id, body in self._db.execute("SELECT message_id, body FROM traces"):
            if message_id in known or message_id in self._entries:
                continue
            if self._is_forgotten(TraceEntry.from_state(orjson.loads(body))):
                found.append(message_id)
        return found

    def allow(self, hashes: Collection[str]) -> None:
        """Accept these people's records again (``privacy unsuppress``)."""
        self._forgotten.difference_update(hashes)
        if self._db is not None and hashes:
            with self._db:
                self._db.executemany("DELETE FROM forgotten WHERE hash = ?", [(h,) for h in hashes])

    def _load(self) -> None:
        assert self._db is not None
        for (value,) in self._db.execute("SELECT hash FROM forgotten"):
            if value.startswith(_GONE_PREFIX):
                self._gone.add(value.removeprefix(_GONE_PREFIX))
            else:
                self._forgotten.add(value)
        self._prune_db()
        rows = self._db.execute(
            "SELECT body FROM traces ORDER BY updated DESC LIMIT ?", (self.max_events,)
        ).fetchall()
        for (body,) in reversed(rows):
            entry = TraceEntry.from_state(orjson.loads(body))
            self._entries[entry.message_id] = entry

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, message_id: str) -> TraceEntry | None:
        """The folded trace of one event."""
        return self._entries.get(message_id)

    def query(self, query: TraceQuery) -> list[TraceEntry]:
        """Entries matching every given filter, newest first."""
        self._evict()
        email_key = self._index.email_key(normalize_email(query.email)) if query.email else None
        event = query.event.casefold() if query.event else None
        found: list[TraceEntry] = []
        for entry in reversed(self._entries.values()):
            if email_key is not None and entry.email_key != email_key:
                continue
            if event is not None and (entry.event or "").casefold() != event:
                continue
            if query.outcome and entry.outcome != query.outcome:
                continue
            if query.reason and entry.reason != query.reason:
                continue
            if query.since is not None and entry.timestamp < query.since:
                continue
            if query.until is not None and entry.timestamp > query.until:
                continue
            found.append(entry)
            if len(found) >= query.limit:
                break
        return found

    def recent_events(self, limit: int) -> list[tuple[str, bytes]]:
        """The raw records of the last ``limit`` events, oldest first (for replays)."""
        with_raw = [entry for entry in self._entries.values() if entry.raw is not None]
        with_raw.sort(key=lambda entry: entry.timestamp)
        return [(entry.message_id, entry.raw) for entry in with_raw[-limit:] if entry.raw]

    # -- live ----------------------------------------------------------------------------------

    def subscribe(self, maxsize: int = 1000) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving the summary of every entry that changes from now on."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop feeding ``queue``."""
        self._subscribers.discard(queue)

    def close(self) -> None:
        """Close the database."""
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


__all__ = ["TraceEntry", "TraceQuery", "TraceStore", "normalize_email", "parse_time"]
