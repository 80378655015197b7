"""The health gate shared through the state store: two gates on one real Redis (two delivery
processes) pause together when one sees Outreach down, send one probe per interval between
them, and both open on the first answer."""

from __future__ import annotations

import asyncio
import itertools
import time

from leadgate.outreach.health import HealthGate
from leadgate.store.health_board import HealthBoard
from leadgate.store.redis import RedisStore
from tests.plugins.redis import RedisServer

URL = "https://api.outreach.example/api/v2"
INTERVAL_S = 0.3


async def _until_flagged(board: HealthBoard) -> None:
    async with asyncio.timeout(5.0):
        while not await board.is_closed():  # noqa: ASYNC110 (polling another process's write)
            await asyncio.sleep(0.02)


async def test_two_processes_pause_together_probe_once_per_interval_and_resume_together(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Gate A closes on its own failures; gate B, which saw none, pauses at its next read of
    the board; while both wait, probes (A's and B's together) go one per interval; failed
    probes keep both closed; the first answer, in B, opens A too."""
    stores = [RedisStore(redis_server.url, namespace=redis_namespace) for _ in range(2)]
    gates = {
        name: HealthGate(
            close_after=3,
            probe_interval_s=INTERVAL_S,
            board=HealthBoard(store, URL, owner=name),
        )
        for store, name in zip(stores, "ab", strict=True)
    }
    a, b = gates["a"], gates["b"]
    board = HealthBoard(stores[1], URL, owner="observer")
    admitted: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    waiting: list[asyncio.Task[None]] = []

    async def request(name: str) -> None:
        await gates[name].admit()
        admitted.put_nowait((name, time.monotonic()))

    try:
        await b.admit()  # open: B's request goes, and B has read the board
        for _ in range(3):
            a.failed()
        assert a.closed
        await _until_flagged(board)
        await asyncio.sleep(INTERVAL_S)  # B reads the board at most once per interval
        waiting += [asyncio.create_task(request(name)) for name in "ab" * 4]
        await asyncio.sleep(0.05)
        assert b.closed, "B paused without a failure of its own"
        assert admitted.qsize() <= 1, "nothing but the first probe went"
        probes: list[tuple[str, float]] = []
        while not probes or probes[-1][0] != "b":  # failed probes until one of B's goes
            if probes:
                gates[probes[-1][0]].failed()  # still down
            probes.append(await asyncio.wait_for(admitted.get(), INTERVAL_S * 4))
            assert a.closed
            assert b.closed
        gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(probes)]
        assert all(gap >= INTERVAL_S * 0.9 for gap in gaps), f"one probe per interval: {gaps}"
        b.succeeded()  # B's probe got an answer: Outreach is back
        assert not b.closed
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=INTERVAL_S * 5)
        assert not a.closed, "A opened on B's answer"
        assert not await board.is_closed()
        assert a.probes + b.probes == len(probes)
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        for store in stores:
            await store.close()


async def test_a_closed_flag_nobody_refreshes_expires(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """A process that closed the gate and died leaves a flag that expires by itself."""
    store = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        board = HealthBoard(store, URL, owner="gone")
        await board.close(ttl_s=0.2)
        assert await board.is_closed()
        await asyncio.sleep(0.3)
        assert not await board.is_closed()
        assert await board.claim_probe(ttl_s=5.0)
        assert not await HealthBoard(store, URL, owner="other").claim_probe(ttl_s=5.0)
    finally:
        await store.close()
