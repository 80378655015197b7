"""A backlog against a sandbox with a small budget: the whole budget is used, and no 429."""

from __future__ import annotations

import asyncio
import time

from leadgate.outreach.deliver import deliver
from leadgate.store.memory import MemoryStore
from tests.outreach.client.helpers import dispatcher_for, make_lead
from tests.plugins.sandbox import MakeSandbox, request_epoch

LIMIT = 40
WINDOW_S = 8.0
WINDOWS = 2


async def test_backlog_uses_the_budget_without_a_single_429(make_sandbox: MakeSandbox) -> None:
    """20 concurrent deliveries at the budget of 40 per 8 s use >= 95% of it and provoke no 429."""
    sandbox = await make_sandbox(rate_limit=LIMIT, window_s=WINDOW_S)
    leads = [make_lead(f"backlog{i}@gmail.com", account=None) for i in range(400)]
    per_hour = round(LIMIT * 3600 / WINDOW_S)
    async with dispatcher_for(
        sandbox.url, MemoryStore(), budget_per_hour=per_hour, retry_after_cap_s=WINDOW_S + 2
    ) as (client, dispatcher):
        await client.auth.access_token()
        ends = time.time() + WINDOWS * WINDOW_S + 2.0

        async def drain() -> None:
            while leads and time.time() < ends:
                await deliver(dispatcher, leads.pop(), client.settings)

        await asyncio.gather(*(drain() for _ in range(20)))
    api = await sandbox.api_requests()
    assert [r for r in api if r["status"] == 429] == []
    first = min(request_epoch(r) for r in api)
    served = [r for r in api if request_epoch(r) < first + WINDOWS * WINDOW_S]
    assert len(served) >= 0.95 * LIMIT * WINDOWS
