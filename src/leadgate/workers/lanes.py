"""Per-email lanes: the delivery worker's records run as one task per email, not per partition.

A partition's batch is handed out at once: each record goes into its email's lane (a queue and
one task), and the partition fetches its next batch while the lanes work. So one slow upsert,
or one lead retrying through a backoff, holds only its own email; every other email of the
partition keeps flowing. Within a lane, records are delivered strictly in arrival order (the
delivery topic is keyed by email, so that is the email's order).

Coalescing is leading-edge (``workers/coalesce.py``): a lane whose email was written less than
``coalesce_window_s`` ago waits for the window's end, then takes everything queued so far and
writes it in one go. A record's offset stays unfinished in the consume loop (nothing at or
past it is committed) until its outcome is final; the lane then ``complete()``s it under the
generation it was fetched in, so the records of a revoked partition are skipped here and
delivered by their new owner.

Work is bounded: ``put`` waits while ``max_pending`` records are unfinished (the partition stays
paused meanwhile), and the write concurrency is the worker's own (``outreach.max_in_flight``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka import TopicPartition

from leadgate.domain.lead import LeadIntent
from leadgate.observability.logging import get_logger
from leadgate.workers.coalesce import LeadingEdge
from leadgate.workers.consumer import ConsumeLoop, Record
from leadgate.workers.stopping import cancel_all

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    """One record in a lane, with the partition generation it was fetched in."""

    tp: TopicPartition
    generation: int | None
    record: Record
    intent: LeadIntent


# Delivers a lane's items in order until every one is final (or no longer ours).
Deliver = Callable[[list[Item]], Awaitable[None]]


class Lanes:
    """The lanes of every email with records in flight."""

    def __init__(
        self,
        loop: ConsumeLoop,
        deliver: Deliver,
        *,
        window_s: float,
        max_pending: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.edge = LeadingEdge(window_s, clock=clock)
        self._loop = loop
        self._deliver = deliver
        self._max_pending = max_pending
        self._queues: dict[str, list[Item]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: list[Item] = []  # unfinished, in no particular order
        self._changed = asyncio.Condition()
        self._closed = False

    @property
    def pending(self) -> int:
        """Records handed to a lane whose outcome is not final yet."""
        return len(self._pending)

    def current(self, item: Item) -> bool:
        """Whether ``item``'s partition is still ours in the generation it was fetched in."""
        return self._loop.generation_of(item.tp) == item.generation

    async def put(self, key: str, items: list[Item]) -> None:
        """Queue ``items`` (in order) on ``key``'s lane; waits while the lanes are full."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._pending) < self._max_pending)
            self._pending.extend(items)
        self._queues.setdefault(key, []).extend(items)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._run(key))

    async def idle(self, timeout_s: float, only: Iterable[TopicPartition] | None = None) -> bool:
        """Wait (at most ``timeout_s``) until no record is pending (of ``only``'s partitions,
        when given); True when that happened in time."""
        wanted = set(only) if only is not None else None

        def settled() -> bool:
            return not any(wanted is None or item.tp in wanted for item in self._pending)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(settled), timeout_s)
            except TimeoutError:
                return False
        return True

    async def close(self) -> None:
        """Stop every lane; unfinished records stay uncommitted and come again after a restart.
        A closed lane takes no next piece of work, even if its cancellation was lost."""
        self._closed = True
        await cancel_all(self._tasks.values())

    async def _run(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue and not self._closed:
                due = self.edge.due(key)
                if due is not None:
                    await asyncio.sleep(max(due - self.edge.now(), 0.0))
                items = list(queue)
                queue.clear()
                started = self.edge.now()
                try:
                    await self._deliver([i for i in items if self.current(i)])
                except Exception as exc:  # a bug must not lose the records: they come again
                    log.exception("delivery.lane_failed", error=repr(exc))
                    queue[:0] = items
                    await asyncio.sleep(1.0)
                    continue
                self.edge.wrote(key, started)
                await self._finished(items)
        finally:
            del self._queues[key]
            del self._tasks[key]

    def complete(self, items: Iterable[Item]) -> None:
        """These records' outcomes are final: their offsets may be committed."""
        for item in items:
            self._loop.complete(item.tp, (item.record.offset,), item.generation)

    async def _finished(self, items: list[Item]) -> None:
        done = {id(item) for item in items}
        async with self._changed:
            self._pending = [item for item in self._pending if id(item) not in done]
            self._changed.notify_all()
