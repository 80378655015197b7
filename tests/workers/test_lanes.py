"""Per-email lanes: order per email, no email waits for another, bounded pending work, offsets
completed only when final and only for the generation they were fetched in."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from aiokafka import TopicPartition

from leadgate.domain.lead import LeadIntent
from leadgate.workers.consumer import ConsumeLoop
from leadgate.workers.lanes import Item, Lanes

TP = TopicPartition("leads", 0)


class _Loop:
    """The two things lanes need of the consume loop: generations and completions."""

    def __init__(self) -> None:
        self.generation = 1
        self.completed: list[int] = []

    def generation_of(self, tp: TopicPartition) -> int | None:
        return self.generation

    def complete(self, tp: TopicPartition, offsets: Any, generation: int | None) -> None:
        if generation == self.generation:
            self.completed.extend(offsets)


def _item(offset: int, email: str) -> Item:
    intent = LeadIntent(email=email, attributes={}, message_ids=(f"m{offset}",))
    return Item(TP, 1, SimpleNamespace(offset=offset), intent)


def _lanes(loop: _Loop, deliver: Any, **kw: Any) -> Lanes:
    return Lanes(cast(ConsumeLoop, loop), deliver, window_s=0.0, max_pending=kw.get("max", 100))


async def test_one_slow_email_holds_only_itself_and_each_email_keeps_its_order() -> None:
    """While ada's write hangs, bob's three records are delivered in order and completed; ada's
    offsets complete only once her write is final."""
    loop = _Loop()
    seen: list[int] = []
    release = asyncio.Event()

    async def deliver(items: list[Item]) -> None:
        if items[0].intent.email == "ada@acme.example":
            await release.wait()
        seen.extend(i.record.offset for i in items)
        lanes.complete(items)

    lanes = _lanes(loop, deliver)
    await lanes.put("ada@acme.example", [_item(0, "ada@acme.example")])
    for offset in (1, 2, 3):
        await lanes.put("bob@acme.example", [_item(offset, "bob@acme.example")])
    assert await lanes.idle(0.2) is False  # ada still pending
    assert seen == [1, 2, 3]
    assert sorted(loop.completed) == [1, 2, 3]
    release.set()
    assert await lanes.idle(1.0)
    assert sorted(loop.completed) == [0, 1, 2, 3]


async def test_put_waits_while_the_lanes_are_full() -> None:
    """With max_pending records unfinished, handing out more waits until one is final."""
    loop = _Loop()
    release = asyncio.Event()

    async def deliver(items: list[Item]) -> None:
        await release.wait()
        lanes.complete(items)

    lanes = _lanes(loop, deliver, max=2)
    await lanes.put("a@x.example", [_item(0, "a@x.example")])
    await lanes.put("b@x.example", [_item(1, "b@x.example")])
    third = asyncio.create_task(lanes.put("c@x.example", [_item(2, "c@x.example")]))
    await asyncio.sleep(0.05)
    assert not third.done()
    assert lanes.pending == 2
    release.set()
    await asyncio.wait_for(third, 1.0)
    assert await lanes.idle(1.0)
    assert sorted(loop.completed) == [0, 1, 2]


async def test_records_of_a_revoked_generation_are_not_delivered() -> None:
    """Records fetched before a revoke are skipped by their lane (their new owner delivers)."""
    loop = _Loop()
    delivered: list[int] = []
    gate = asyncio.Event()

    async def deliver(items: list[Item]) -> None:
        await gate.wait()
        delivered.extend(i.record.offset for i in items)

    lanes = _lanes(loop, deliver)
    await lanes.put("a@x.example", [_item(0, "a@x.example")])
    await asyncio.sleep(0.01)  # the first write is under way
    await lanes.put("a@x.example", [_item(1, "a@x.example")])
    loop.generation = 2  # revoked and re-assigned
    gate.set()
    assert await lanes.idle(1.0)
    assert delivered == [0]  # already under way before the revoke; offset 1 was skipped
    await lanes.close()
