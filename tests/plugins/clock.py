"""A clock the test sets by hand, for code that takes ``clock=`` (rate limits, TTLs, windows)."""

from __future__ import annotations


class FakeClock:
    """Returns ``now``; the test moves it (``clock.now += 0.5``), so no test sleeps."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
