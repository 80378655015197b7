"""Holding followers back: the delivery side of leading-edge coalescing (``workers/coalesce.py``).

An email written within the last ``coalesce_window_s`` has its next intents held here and
written once, folded, when the window has passed. A held record's offset stays unfinished in the
consume loop (nothing at or past it is committed) until its write is final, then ``complete()``
finishes it under the generation it was fetched in, so a revoked partition's held records are
dropped here and delivered by their new owner. Records of an email that is holding are always
held too, so one email's writes stay in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition

from leadgate.domain.lead import LeadIntent
from leadgate.observability.logging import get_logger
from leadgate.workers.coalesce import HeldLeads, HeldRecord, LeadingEdge
from leadgate.workers.consumer import ConsumeLoop, Record

log = get_logger(__name__)

Group = list[tuple[Record, LeadIntent]]
# Writes a group in order; returns how many leading records are final, and None when every
# record is, else the seconds to wait before trying the rest again.
Write = Callable[[Group], Awaitable[tuple[int, float | None]]]


class HoldBack:
    """The held intents of every email, and the tasks that write them when they are due."""

    def __init__(self, window_s: float, loop: ConsumeLoop, write: Write) -> None:
        self.edge = LeadingEdge(window_s)
        self._loop = loop
        self._write = write
        self._held: dict[str, HeldLeads] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def split(self, tp: TopicPartition, groups: dict[str, Group]) -> dict[str, Group]:
        """Hold the groups of emails written within the window (or already holding records) and
        return the rest, which go now. Held offsets belong neither in ``done`` nor in a retry."""
        generation = self._loop.generation_of(tp)
        now: dict[str, Group] = {}
        for email, group in groups.items():
            held = self._held.get(email)
            if held is None:
                due = self.edge.due(email)
                if due is None:
                    now[email] = group
                    continue
                held = self._held[email] = HeldLeads(due=due)
                task = asyncio.create_task(self._write_when_due(email, held))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            for record, intent in group:
                held.add(HeldRecord(tp, generation, record, intent))
        return now

    async def close(self) -> None:
        """Stop holding: held records stay uncommitted, so they are delivered after a restart."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _write_when_due(self, email: str, held: HeldLeads) -> None:
        """Write an email's held records once their window has passed; again for records held
        meanwhile, until none is left."""
        try:
            while held.items:
                await asyncio.sleep(max(held.due - self.edge.now(), 0.0))
                items = [
                    i for i in held.take() if self._loop.generation_of(i.tp) == i.generation
                ]  # a revoked partition's records go to their new owner
                if not items:
                    continue
                started = self.edge.now()
                try:
                    finished, retry_in = await self._write([(i.record, i.intent) for i in items])
                except Exception as exc:  # a bug must not lose the held records
                    log.exception("delivery.held_failed", error=repr(exc))
                    finished, retry_in = 0, 1.0
                for item in items[:finished]:
                    self._loop.complete(item.tp, (item.record.offset,), item.generation)
                if finished:
                    self.edge.wrote(email, started)
                if retry_in is not None:
                    held.put_back(items[finished:])
                    held.due = self.edge.now() + retry_in
                    continue
                held.due = started + self.edge.window_s
        finally:
            if self._held.get(email) is held:
                del self._held[email]
