"""The request budget: a local leaky bucket, corrected by what Outreach says is left.

Outreach allows 10,000 requests per user per hour (a fixed window) and reports
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (epoch seconds) on every response. leadgate
spends ``budget_per_hour * budget_share`` through an aiolimiter bucket that may burst one minute's
worth; the bucket alone keeps us under the budget even when the headers are missing (V20).
When Outreach says nothing is left, or answers 429, the budget is *held* until the reset: no
request is sent until then and callers get ``RateLimited`` at once, so a delivery worker can pause
the partition instead of parking coroutines (ARCHITECTURE §4).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from aiolimiter import AsyncLimiter

from leadgate.errors import RateLimited
from leadgate.outreach.backoff import retry_after
from leadgate.settings import OutreachSettings


class RateBudget:
    """Client-side budget shared by every request of one Outreach user."""

    def __init__(
        self, settings: OutreachSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        per_hour = settings.budget_per_hour * settings.budget_share
        burst = max(1.0, per_hour / 60.0)
        self._limiter = AsyncLimiter(burst, time_period=burst * 3600.0 / per_hour)
        self._clock = clock
        self._cap = settings.retry_after_cap_s
        self._held_until = 0.0
        self.remaining: int | None = None

    @property
    def held_for(self) -> float:
        """Seconds until the budget is released again (0 when it is not held)."""
        return max(self._held_until - self._clock(), 0.0)

    async def acquire(self) -> None:
        """Take one request from the budget, or raise ``RateLimited`` while it is held."""
        wait = self.held_for
        if wait > 0:
            raise RateLimited(
                f"Outreach rate budget exhausted; resets in {wait:.1f}s", retry_after_s=wait
            )
        await self._limiter.acquire()

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (capped), e.g. after a 429."""
        until = self._clock() + min(max(seconds, 0.0), self._cap)
        self._held_until = max(self._held_until, until)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the local view from a response's rate-limit headers (ignored when garbage)."""
        raw = headers.get("X-RateLimit-Remaining")
        if raw is None:
            return
        try:
            remaining = int(raw)
        except ValueError:
            return
        self.remaining = remaining
        if remaining <= 0:
            reset = retry_after(
                {"X-RateLimit-Reset": headers.get("X-RateLimit-Reset", "")}, now=self._clock()
            )
            # No usable reset: hold one minute, then let a request find out.
            self.hold(reset if reset is not None else 60.0)
