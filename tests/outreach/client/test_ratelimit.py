"""RateBudget: the local bucket enforces the configured share; headers only tighten it."""

from __future__ import annotations

import asyncio

import pytest

from leadgate.errors import RateLimited
from leadgate.outreach.ratelimit import RateBudget
from leadgate.settings import OutreachSettings


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_budget_allows_one_minute_of_burst_then_blocks() -> None:
    """At 120/hour the bucket lets 2 requests through at once and holds the third (V20, P21)."""
    budget = RateBudget(OutreachSettings(budget_per_hour=120))
    await budget.acquire()
    await budget.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), timeout=0.2)


async def test_budget_share_scales_the_bucket() -> None:
    """A 50% share of 240/hour behaves like 120/hour."""
    budget = RateBudget(OutreachSettings(budget_per_hour=240, budget_share=0.5))
    await budget.acquire()
    await budget.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), timeout=0.2)


async def test_remaining_zero_holds_until_reset_then_releases() -> None:
    """X-RateLimit-Remaining: 0 holds the budget exactly until X-RateLimit-Reset."""
    clock = Clock()
    budget = RateBudget(OutreachSettings(), clock=clock)
    budget.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now) + 30)})
    with pytest.raises(RateLimited) as limited:
        await budget.acquire()
    assert limited.value.retry_after_s == pytest.approx(30)
    clock.now += 30
    await budget.acquire()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-RateLimit-Remaining": "lots"}, {"X-RateLimit-Remaining": "12"}],
)
async def test_missing_or_garbage_headers_do_not_hold(headers: dict[str, str]) -> None:
    """Missing, garbage or positive Remaining values leave the budget open."""
    budget = RateBudget(OutreachSettings())
    budget.observe(headers)
    assert budget.held_for == 0
    await budget.acquire()


async def test_holds_are_capped() -> None:
    """A garbage reset a day away holds at most retry_after_cap_s."""
    clock = Clock()
    budget = RateBudget(OutreachSettings(retry_after_cap_s=60), clock=clock)
    budget.hold(86_400)
    assert budget.held_for == pytest.approx(60)
