"""The inspector's trace store: the last N events / H hours, in memory and in SQLite.

Records arrive from ``leadgate.traces`` (and the raw events from ``leadgate.events``) in any
order: the processor's trace (stages, normalised fields, drop reason), then one delivery record
per attempt group (``{"messageId", "stage": "delivery", "outcome", "reason", "prospectId",
"action", "exchanges", "at"}``). ``TraceEntry`` folds them per messageId into one view whose
final outcome is the newest final delivery record, else the processor's drop, else ``pending``.

Memory serves the API; SQLite (``traces.sqlite3`` in the state dir, owner-only, in
``store/trace_file.py``) lets a restarted inspector and ``leadgate presets diff`` see recent
events. It is protected like the state store (owner-only file in an owner-only directory, bounded
in size and age); emails are matched through a salted hash of the normalised address
(``store.email_index``), never a plain address index.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadgate.observability.metrics import INSPECTOR_TRACES
from leadgate.store.email_index import EmailIndex
from leadgate.store.trace_entry import TraceEntry, normalize_email, parse_time
from leadgate.store.trace_file import TraceFile

_PRUNE_EVERY = 200
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
        self._file: TraceFile | None = None
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
            self._file = TraceFile(state_dir / "traces.sqlite3")
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
        if self._file is None:
            return
        self._file.save(entry)
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
        if self._file is not None:
            self._file.prune(self._clock() - self.max_age_s, self.max_events)

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
        if self._file is not None and message_ids:
            self._file.erase(message_ids, self._clock())
        INSPECTOR_TRACES.set(len(self._entries))

    def forget(self, hashes: Collection[str]) -> int:
        """Erase every trace (memory and disk) of the people with these identifier hashes, and
        refuse their records from now on; how many traces were erased."""
        if self._person_hash is None or not hashes:
            return 0
        fresh = set(hashes) - self._forgotten
        self._forgotten.update(hashes)
        if self._file is not None and fresh:
            self._file.forget(fresh, self._clock())
        doomed = [m for m, entry in self._entries.items() if self._is_forgotten(entry)]
        doomed.extend(self._forgotten_on_disk(set(doomed)))
        self._drop(doomed)
        return len(doomed)

    def _forgotten_on_disk(self, known: set[str]) -> list[str]:
        """Traces on disk that memory no longer holds but that belong to a forgotten person."""
        if self._file is None:
            return []
        on_disk = self._file.traces(skip=lambda m: m in known or m in self._entries)
        return [entry.message_id for entry in on_disk if self._is_forgotten(entry)]

    def allow(self, hashes: Collection[str]) -> None:
        """Accept these people's records again (``privacy unsuppress``)."""
        self._forgotten.difference_update(hashes)
        if self._file is not None and hashes:
            self._file.allow(hashes)

    def _load(self) -> None:
        assert self._file is not None
        people, gone = self._file.forgotten()
        self._forgotten.update(people)
        self._gone.update(gone)
        self._prune_db()
        for entry in self._file.newest(self.max_events):
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
        if self._file is not None:
            self._file.close()
            self._file = None


__all__ = ["TraceEntry", "TraceQuery", "TraceStore", "normalize_email", "parse_time"]
