"""Outreach's per-user budget: a fixed window (10,000 requests per hour by default) reported in
``X-RateLimit-Limit/Remaining/Reset`` on every response, ``Reset`` in epoch seconds.

The window opens with the first counted request rather than on the hour, so a test that sets a
budget of 3 per 2 s sees the same numbers however slow the machine is.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(slots=True)
class FixedWindow:
    """Requests counted in the current window; the window reopens when it has passed."""

    limit: int
    window_s: float
    started: float | None = None
    used: int = 0
    # A 429 storm pins the headers to "nothing left until then".
    pinned_until: float | None = None

    def _roll(self, now: float) -> None:
        if self.started is not None and now >= self.started + self.window_s:
            self.started = None
            self.used = 0
        if self.pinned_until is not None and now >= self.pinned_until:
            self.pinned_until = None

    def reset_at(self, now: float) -> float:
        """When the current window ends (epoch seconds)."""
        if self.pinned_until is not None:
            return self.pinned_until
        return (self.started if self.started is not None else now) + self.window_s

    def remaining(self, now: float) -> int:
        """Requests left in the window."""
        self._roll(now)
        if self.pinned_until is not None:
            return 0
        return max(0, self.limit - self.used)

    def take(self, now: float | None = None) -> bool:
        """Count one request; False when the budget is spent (the request gets a 429)."""
        now = time.time() if now is None else now
        self._roll(now)
        if self.started is None:
            self.started = now
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the window reopens, at least 1."""
        now = time.time() if now is None else now
        return max(1, math.ceil(self.reset_at(now) - now))

    def headers(self, now: float | None = None) -> dict[str, str]:
        """The three rate-limit headers as they stand now."""
        now = time.time() if now is None else now
        remaining = self.remaining(now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at(now))),
        }

    def clear(self) -> None:
        """A fresh window."""
        self.started = None
        self.used = 0
        self.pinned_until = None
