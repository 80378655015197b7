"""When to try a failed delivery again, and when to give up: one pure policy.

``leadgate send`` (``outreach/deliver.py``) and the delivery worker both ask
``RetryPolicy.decide(state, error, now)`` after a failed attempt and get one ``Decision``:
``Retry(after_s)`` or ``GiveUp(reason)``. No clock, no sleep, no IO: tested with plain numbers.

The rules, in one place:

- An error that is not ``retriable`` (``PermanentError``) gives up at once with its own reason.
- The retry window opens at the first failure and lasts ``retry_window_s``. A failure once the
  window is spent gives up as ``retry_window_exhausted`` (the only way to get that reason); a
  retry is never scheduled past the window's end (the last try lands on it).
- A 429 (``RateLimited``) waits for the advised reset (capped, with a little jitter) and does
  not count as a failure for the backoff.
- Other retriable failures back off exponentially with full jitter (``outreach/backoff.py``),
  except while Outreach as a whole is failing (``outage``, the shared health gate is closed)
  and the failure is one of the outage's (``vendor_5xx``, ``vendor_unreachable``): then the lead
  retries at once and its next request waits at the gate, which lets every waiting lead go as
  soon as a probe gets through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leadgate.domain.reasons import OUTAGE_REASONS, DeadLetterReason
from leadgate.errors import DeliveryError, RateLimited
from leadgate.outreach.backoff import next_delay
from leadgate.settings import OutreachSettings


@dataclass(frozen=True, slots=True)
class RetryState:
    """The failures of one lead so far (a fresh state for a lead that has not failed)."""

    first_failure: float | None = None
    failures: int = 0  # failures that grow the backoff (a 429 does not)
    tries: int = 0  # every failed try, 429s included

    @property
    def attempt(self) -> int:
        """The number of the next try (1 for a lead that has not failed): what traces show."""
        return self.tries + 1


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after ``after_s`` seconds; ``reason`` names the failure."""

    after_s: float
    reason: str
    state: RetryState


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop trying: the lead is dead-lettered with ``reason``."""

    reason: str
    state: RetryState


Decision = Retry | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The retry and give-up rules, with the settings' numbers."""

    backoff_base_s: float
    backoff_cap_s: float
    retry_after_cap_s: float
    retry_window_s: float

    @classmethod
    def from_settings(cls, settings: OutreachSettings) -> RetryPolicy:
        """The policy the Outreach settings describe."""
        return cls(
            settings.backoff_base_s,
            settings.backoff_cap_s,
            settings.retry_after_cap_s,
            settings.retry_window_s,
        )

    def decide(
        self,
        state: RetryState,
        error: DeliveryError,
        now: float,
        *,
        rand: Callable[[], float],
        outage: bool = False,
    ) -> Decision:
        """What to do after ``error`` ended a try at ``now`` (seconds on any one clock)."""
        first = state.first_failure if state.first_failure is not None else now
        limited = isinstance(error, RateLimited)
        after = RetryState(first, state.failures + (0 if limited else 1), state.tries + 1)
        if not error.retriable:
            return GiveUp(error.reason, after)
        window_end = first + self.retry_window_s
        if now >= window_end:
            return GiveUp(str(DeadLetterReason.RETRY_WINDOW_EXHAUSTED), after)
        if outage and error.reason in OUTAGE_REASONS:
            return Retry(0.0, error.reason, after)
        delay = next_delay(
            max(after.failures, 1),
            error.retry_after_s if isinstance(error, RateLimited) else None,
            base=self.backoff_base_s,
            cap=self.backoff_cap_s,
            rand=rand,
            retry_after_cap=self.retry_after_cap_s,
        )
        return Retry(min(delay, window_end - now), error.reason, after)
