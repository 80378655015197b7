"""RateBudget: the local bucket enforces the configured share; headers only tighten it."""

from __future__ import annotations

import asyncio
import time

import pytest

from leadgate.errors import RateLimited
from leadgate.outreach.ratelimit import RateBudget
from leadgate.settings import OutreachSettings
from tests.plugins.clock import FakeClock


async def test_budget_allows_one_second_of_burst_then_paces() -> None:
    """At 36,000/hour (10/s) ten requests go at once and the eleventh waits for its slot (P21)."""
    budget = RateBudget(OutreachSettings(budget_per_hour=36_000))
    for _ in range(10):
        await asyncio.wait_for(budget.acquire(), timeout=0.05)
    started = time.monotonic()
    await budget.acquire()
    assert time.monotonic() - started >= 0.05


async def test_slow_budget_paces_one_request_at_a_time() -> None:
    """At 120/hour one request goes at once and the second waits (the budget is never exceeded)."""
    budget = RateBudget(OutreachSettings(budget_per_hour=120))
    await budget.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), timeout=0.2)


async def test_budget_share_scales_the_pace() -> None:
    """A 50% share of 240/hour behaves like 120/hour."""
    budget = RateBudget(OutreachSettings(budget_per_hour=240, budget_share=0.5))
    await budget.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), timeout=0.2)


async def test_hold_set_while_waiting_for_a_slot_applies() -> None:
    """A request already waiting for its slot when a 429 arrives is not sent (RateLimited)."""
    budget = RateBudget(OutreachSettings(budget_per_hour=3_600))
    await budget.acquire()
    waiting = asyncio.ensure_future(budget.acquire())
    await asyncio.sleep(0.05)
    budget.hold(30)
    with pytest.raises(RateLimited):
        await waiting


async def test_requests_in_flight_count_against_remaining() -> None:
    """With 2 left and 2 requests unanswered, a third waits for the reset instead of a 429."""
    clock = FakeClock()
    budget = RateBudget(OutreachSettings(budget_per_hour=1_000_000), clock=clock)
    reset = {"X-RateLimit-Reset": str(int(clock.now) + 20)}
    budget.observe({"X-RateLimit-Remaining": "2", **reset})
    await budget.acquire()
    await budget.acquire()
    with pytest.raises(RateLimited) as limited:
        await budget.acquire()
    assert limited.value.retry_after_s == pytest.approx(20)
    budget.observe({"X-RateLimit-Remaining": "1", **reset})
    budget.release()
    with pytest.raises(RateLimited):
        await budget.acquire()  # the last one is spoken for by the request still unanswered
    clock.now += 20
    await budget.acquire()


async def test_remaining_zero_holds_until_reset_then_releases() -> None:
    """X-RateLimit-Remaining: 0 holds the budget exactly until X-RateLimit-Reset."""
    clock = FakeClock()
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
    clock = FakeClock()
    budget = RateBudget(OutreachSettings(retry_after_cap_s=60), clock=clock)
    budget.hold(86_400)
    assert budget.held_for == pytest.approx(60)
