"""The processor's handed-on batches: offsets finish only once acknowledged and remembered, in
partition order; a failure keeps its batch and every later one unfinished and rewinds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from leadgate.store.memory import MemoryStore
from leadgate.workers.settling import HandedOn, Settling

TP = TopicPartition("events", 0)


class _Offsets:
    """Records what the settling tells the consume loop."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.retries: list[int] = []

    def complete(self, tp: TopicPartition, offsets: Iterable[int], generation: int | None) -> None:
        self.done.extend(offsets)

    def retry(
        self, tp: TopicPartition, offset: int, generation: int | None, after_s: float
    ) -> None:
        self.retries.append(offset)


def _ack() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_offsets_finish_once_acknowledged_and_ids_count_as_seen_meanwhile() -> None:
    """Until its acknowledgement arrives a batch's offsets stay open and its messageIds count
    as seen; then the ids are in the store and the offsets are finished."""
    store, offsets = MemoryStore(), _Offsets()
    settling = Settling(offsets, store, ttl_s=60)
    ack = _ack()
    settling.hand_on(HandedOn(TP, 1, (0, 1), ("m1",)), [ack])
    await _turns()
    assert offsets.done == []
    assert settling.unsettled(["m1", "m2"]) == {"m1"}
    assert await store.seen(["m1"]) == set()
    ack.set_result(None)
    await settling.idle(5, None)
    assert offsets.done == [0, 1]
    assert await store.seen(["m1"]) == {"m1"}
    assert settling.unsettled(["m1"]) == set()


async def test_batches_of_a_partition_settle_in_order() -> None:
    """A later batch acknowledged first waits for the one before it."""
    offsets = _Offsets()
    settling = Settling(offsets, MemoryStore(), ttl_s=60)
    first, second = _ack(), _ack()
    settling.hand_on(HandedOn(TP, 1, (0,), ()), [first])
    settling.hand_on(HandedOn(TP, 1, (1,), ()), [second])
    second.set_result(None)
    await _turns()
    assert offsets.done == []
    first.set_result(None)
    await settling.idle(5, None)
    assert offsets.done == [0, 1]


async def test_a_failed_batch_rewinds_and_later_batches_wait_for_its_redo() -> None:
    """A batch whose output is refused stays open with every later batch, its ids no longer
    count as seen, the partition is rewound to it, and its redo starts a new chain."""
    offsets = _Offsets()
    settling = Settling(offsets, MemoryStore(), ttl_s=60)
    failing, later = _ack(), _ack()
    settling.hand_on(HandedOn(TP, 1, (0, 1), ("m1",)), [failing])
    settling.hand_on(HandedOn(TP, 1, (2,), ("m2",)), [later])
    later.set_result(None)
    failing.set_exception(KafkaConnectionError())
    await settling.idle(5, None)
    assert offsets.done == []
    assert offsets.retries == [0]
    assert settling.unsettled(["m1", "m2"]) == set()
    # handed on before the redo arrived: fails at once, stays open
    settling.hand_on(HandedOn(TP, 1, (3,), ("m3",)), [])
    await settling.idle(5, None)
    assert offsets.done == []
    # the redo from the failed offset settles, and so does what follows it
    settling.hand_on(HandedOn(TP, 1, (0, 1), ("m1",)), [])
    settling.hand_on(HandedOn(TP, 1, (2, 3), ("m2", "m3")), [])
    await settling.idle(5, None)
    assert offsets.done == [0, 1, 2, 3]


async def test_close_leaves_unsettled_batches_open() -> None:
    """A batch still waiting when the processor stops is not finished (it is redone later)."""
    offsets = _Offsets()
    settling = Settling(offsets, MemoryStore(), ttl_s=60)
    settling.hand_on(HandedOn(TP, 1, (0,), ("m1",)), [_ack()])
    await settling.close()
    assert offsets.done == []
    assert settling.unsettled(["m1"]) == set()
