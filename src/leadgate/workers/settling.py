"""The processor's batches after they were handed on: acknowledgements, seen ids, offsets.

A processor batch is *handed on* once its lead intents and traces are sent and its profiles
stored. What remains — the broker's acknowledgements of every output, then remembering the
batch's consequential messageIds as seen, then finishing its offsets — *settles* here in the
background, so the partition's next batch is processed meanwhile instead of waiting behind the
acknowledgements and the seen-id write (bench ``p5_hops``: that wait was a barrier of 10-60 ms
per batch for every lead behind it). The promises stay as they were:

- A batch's offsets are finished (committable) only once every output of it was acknowledged
  and its messageIds were remembered.
- A partition's batches settle in order, each after the one before it. If one fails (an output
  not acknowledged, the store unreachable), it and every later batch of the partition stay
  unfinished and the partition is sought back to the failed batch's first offset
  (``ConsumeLoop.retry``), as a handler's ``retry_from`` would. Until that batch comes again,
  later batches of the partition fail at once too, so nothing past the failure is finished
  before it.
- A messageId handed on but not remembered yet is *unsettled*: the next batches count it as
  seen (``unsettled``), so a duplicate arriving meanwhile is still dropped. A failed batch's
  ids stop being unsettled, so their redelivery is processed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import TopicPartition

from leadgate.observability.logging import get_logger
from leadgate.store.base import StateStore
from leadgate.workers.stopping import cancel_all

log = get_logger(__name__)

# After a failed settle, the partition is fetched again from the failed batch this late.
RETRY_AFTER_S = 1.0


class Offsets(Protocol):
    """Where settled offsets go: the consume loop (``ConsumeLoop.complete`` / ``retry``)."""

    def complete(
        self, tp: TopicPartition, offsets: Iterable[int], generation: int | None
    ) -> None: ...

    def retry(
        self, tp: TopicPartition, offset: int, generation: int | None, after_s: float
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class HandedOn:
    """One batch handed on: its partition, generation, offsets and consequential messageIds."""

    tp: TopicPartition
    generation: int | None
    offsets: tuple[int, ...]
    message_ids: tuple[str, ...]


class Settling:
    """Every handed-on batch of one processor until it is final; see the module docstring."""

    def __init__(self, loop: Offsets, store: StateStore, ttl_s: float) -> None:
        self._loop = loop
        self._store = store
        self._ttl_s = ttl_s
        self._tails: dict[TopicPartition, asyncio.Task[bool]] = {}
        self._unsettled: dict[str, int] = {}  # messageId -> handed-on batches holding it
        # (generation, first offset) of a partition's failed batch, until it comes again
        self._failed: dict[TopicPartition, tuple[int | None, int]] = {}

    def unsettled(self, message_ids: Iterable[str]) -> set[str]:
        """Which of these messageIds were handed on and are not remembered (or failed) yet."""
        held = self._unsettled
        return {m for m in message_ids if m in held}

    def hand_on(self, batch: HandedOn, acks: Sequence[Awaitable[Any]]) -> None:
        """Settle ``batch`` once ``acks`` are in and the batch before it settled."""
        previous = self._tails.get(batch.tp)
        failed = self._failed.get(batch.tp)
        if failed is not None and (failed[0] != batch.generation or batch.offsets[0] <= failed[1]):
            del self._failed[batch.tp]  # the failed batch came again (or a new owner): start anew
            previous = None
        for message_id in batch.message_ids:
            self._unsettled[message_id] = self._unsettled.get(message_id, 0) + 1
        task = asyncio.create_task(self._settle(batch, previous, acks))
        self._tails[batch.tp] = task
        task.add_done_callback(lambda done: self._ended(batch.tp, done))

    async def idle(self, timeout_s: float, only: set[TopicPartition] | None) -> None:
        """Wait (at most ``timeout_s``) until the batches of ``only`` (None: all) settled; each
        partition's last batch settles after the ones before it."""
        tails = [task for tp, task in self._tails.items() if only is None or tp in only]
        if tails:
            _, late = await asyncio.wait(tails, timeout=timeout_s)
            if late:
                log.warning("processor.settle_timeout", partitions=len(late))

    async def close(self) -> None:
        """Stop settling: what is not final stays uncommitted and is processed again."""
        await cancel_all(self._tails.values())
        self._unsettled.clear()  # a task cancelled before it ran released nothing

    async def _settle(
        self, batch: HandedOn, previous: asyncio.Task[bool] | None, acks: Sequence[Awaitable[Any]]
    ) -> bool:
        try:
            if batch.tp in self._failed or (previous is not None and not await previous):
                return False  # an earlier batch failed: this one is redone after it
            try:
                await asyncio.gather(*acks)
                if batch.message_ids:
                    await self._store.mark_seen(batch.message_ids, self._ttl_s)
            except Exception as exc:  # the batch is not final: it is redone from its start
                self._fail(batch, exc)
                return False
            self._loop.complete(batch.tp, batch.offsets, batch.generation)
            return True
        finally:
            self._release(batch.message_ids)

    def _fail(self, batch: HandedOn, error: Exception) -> None:
        first = batch.offsets[0]
        log.warning(
            "processor.batch_not_settled",
            partition=batch.tp.partition,
            offset=first,
            error=type(error).__name__,
        )
        self._failed[batch.tp] = (batch.generation, first)
        self._loop.retry(batch.tp, first, batch.generation, RETRY_AFTER_S)

    def _release(self, message_ids: Iterable[str]) -> None:
        held = self._unsettled
        for message_id in message_ids:
            left = held.get(message_id, 0) - 1
            if left > 0:
                held[message_id] = left
            else:
                held.pop(message_id, None)

    def _ended(self, tp: TopicPartition, task: asyncio.Task[bool]) -> None:
        if self._tails.get(tp) is task:
            del self._tails[tp]
