"""One Outreach budget for every delivery process: three clients on one Redis spend it together,
never more than it, and what one of them leaves behind when it dies is not lost."""

from __future__ import annotations

import asyncio
import time

from leadgate.outreach.deliver import deliver
from leadgate.outreach.shared_budget import SharedRateBudget, budget_for
from leadgate.store.redis import RedisStore
from leadgate.store.redis_budget import RedisBudgetBook
from tests.outreach.client.helpers import dispatcher_for, make_lead, make_settings
from tests.plugins.redis import RedisServer
from tests.plugins.sandbox import MakeSandbox, request_epoch

LIMIT = 40
WINDOW_S = 8.0
WINDOWS = 2


async def test_three_clients_share_one_budget_without_a_429(
    make_sandbox: MakeSandbox, redis_server: RedisServer, redis_namespace: str
) -> None:
    """Three clients (each its own Redis connection, as three processes have) draining a backlog
    at the full budget of 40 per 8 s together use >= 95% of it and provoke no 429; the third
    stops after the first window and the other two spend its part of the second."""
    sandbox = await make_sandbox(rate_limit=LIMIT, window_s=WINDOW_S)
    leads = [make_lead(f"shared{i}@gmail.com", account=None) for i in range(600)]
    per_hour = round(LIMIT * 3600 / WINDOW_S)
    stores = [RedisStore(redis_server.url, namespace=redis_namespace) for _ in range(3)]
    started = time.time()

    async def worker(index: int, store: RedisStore) -> None:
        async with dispatcher_for(
            sandbox.url, store, budget_per_hour=per_hour, retry_after_cap_s=WINDOW_S + 2
        ) as (client, dispatcher):
            assert isinstance(client.budget, SharedRateBudget)
            ends = started + (WINDOW_S if index == 2 else WINDOWS * WINDOW_S + 2.0)

            async def drain() -> None:
                while leads and time.time() < ends:
                    await deliver(dispatcher, leads.pop(), client.settings)

            await asyncio.gather(*(drain() for _ in range(8)))

    try:
        await asyncio.gather(*(worker(i, s) for i, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.close()
    api = await sandbox.api_requests()
    assert [r for r in api if r["status"] == 429] == []
    first = min(request_epoch(r) for r in api)
    served = [r for r in api if request_epoch(r) < first + WINDOWS * WINDOW_S]
    assert len(served) >= 0.95 * LIMIT * WINDOWS


async def test_a_dead_processes_requests_strand_no_budget(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Slots taken by a process that died before their answers came stop counting against
    Outreach's remaining count at their deadline, so the survivors can send again."""
    store = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        book = RedisBudgetBook(store.redis, store.key("budget:", "u"))
        now = time.time()
        await book.observe(now=now, remaining=2, reset_at=now + 3600, hold_s=3600)
        for member in ("dead-1", "dead-2"):  # taken, never answered: the process is gone
            taken = await book.take(
                now=now, interval=0.001, tolerance=1.0, member=member, deadline=now + 5
            )
            assert taken.verdict == "ok"
        blocked = await book.take(
            now=now + 1, interval=0.001, tolerance=1.0, member="alive-1", deadline=now + 6
        )
        assert blocked.verdict == "held"
        later = await book.take(
            now=now + 6, interval=0.001, tolerance=1.0, member="alive-2", deadline=now + 11
        )
        assert later.verdict == "ok"
    finally:
        await store.close()


async def test_the_shared_budget_follows_the_store(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """A client of the Redis store paces with the shared budget; the budget key names the
    Outreach app and API, not a process (so every process finds the same one)."""
    settings = make_settings("http://127.0.0.1:9")
    one = RedisStore(redis_server.url, namespace=redis_namespace)
    two = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        first, second = budget_for(settings, one), budget_for(settings, two)
        assert isinstance(first, SharedRateBudget)
        assert isinstance(second, SharedRateBudget)
        assert first._book.state_key == second._book.state_key
    finally:
        await one.close()
        await two.close()
