"""The request budget: a local pacer, corrected by what Outreach says is left.

Outreach allows 10,000 requests per user per hour (a fixed window) and reports
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (epoch seconds) on every response. leadgate
spends ``budget_per_hour * budget_share`` at an even pace (a GCRA bucket whose burst is one
second's worth, at least one request), so the pacer alone keeps us under the budget even when
the headers are missing (V20, P21).

The headers tighten it: requests already sent but not answered (``in_flight``) are counted
against the last ``Remaining``, and while ``Remaining - in_flight <= 0``, or after a 429, the
budget is *held* until the reset: nothing is sent and callers get ``RateLimited`` at once, so a
delivery worker can pause the partition instead of parking coroutines (docs/architecture.md). The
hold is checked again when a paced request wakes up, so requests queued before the hold never
slip out after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from leadgate.errors import RateLimited
from leadgate.outreach.backoff import retry_after
from leadgate.settings import OutreachSettings

# With ``Remaining`` spent and no usable reset: wait this long, then let a request find out.
UNKNOWN_RESET_S = 60.0


class RateBudget:
    """Client-side budget shared by every request of one Outreach user.

    ``acquire()`` before each request and ``release()`` once its answer (or failure) is in.
    """

    def __init__(
        self,
        settings: OutreachSettings,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        per_hour = settings.budget_per_hour * settings.budget_share
        self._interval = 3600.0 / per_hour
        # GCRA tolerance: how far ahead of the even pace a request may go (burst - 1 slots).
        self._tolerance = max(1.0, 1.0 / self._interval) * self._interval - self._interval
        self._next_at = 0.0  # the theoretical arrival time of the next request (monotonic)
        self._clock = clock
        self._monotonic = monotonic
        self._cap = settings.retry_after_cap_s
        self._held_until = 0.0
        self._reset_at: float | None = None
        self.remaining: int | None = None
        self.in_flight = 0

    @property
    def held_for(self) -> float:
        """Seconds until the budget is released again (0 when it is not held)."""
        return max(self._held_until - self._clock(), 0.0)

    async def acquire(self) -> None:
        """Take one request from the budget (waiting for its slot), or raise ``RateLimited``."""
        while True:
            # Checked on every wake-up: a hold set while this request waited applies to it.
            self._check()
            now = self._monotonic()
            wait = self._next_at - self._tolerance - now
            if wait <= 0:
                break
            # No slot is reserved while waiting, so a request that ends up held spends none.
            await asyncio.sleep(wait)
        self._next_at = max(self._next_at, now) + self._interval
        self.in_flight += 1

    def release(self) -> None:
        """The request taken by ``acquire()`` is answered (or failed)."""
        self.in_flight = max(self.in_flight - 1, 0)

    def _check(self) -> None:
        now = self._clock()
        if self._reset_at is not None and now >= self._reset_at:
            self._reset_at = None
            self.remaining = None  # a new window: the old count says nothing
        wait = self.held_for
        if wait <= 0 and self.remaining is not None and self.remaining - self.in_flight <= 0:
            # Whatever is left is spoken for by requests not answered yet.
            wait = self._reset_at - now if self._reset_at is not None else 1.0
            wait = max(wait, 0.001)
        if wait > 0:
            raise RateLimited(
                f"Outreach rate budget exhausted; resets in {wait:.1f}s", retry_after_s=wait
            )

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
        now = self._clock()
        reset = retry_after({"X-RateLimit-Reset": headers.get("X-RateLimit-Reset", "")}, now=now)
        reset_at = now + reset if reset is not None else None
        same_window = (
            self.remaining is not None
            and reset_at is not None
            and self._reset_at is not None
            and abs(reset_at - self._reset_at) < 1.0
        )
        if same_window and self.remaining is not None:
            # Answers arrive out of order: within one window the lowest count is the newest.
            remaining = min(remaining, self.remaining)
        self.remaining = remaining
        self._reset_at = reset_at
        if remaining <= 0:
            # No usable reset: hold one minute, then let a request find out.
            self.hold(reset if reset is not None else UNKNOWN_RESET_S)
