"""When to try again: pure functions of (attempt, advised wait, clock), tested without sleeping.

Transient failures back off exponentially with *full jitter* (a uniformly random delay up to the
exponential ceiling, AWS's "Exponential Backoff and Jitter"), so many workers that failed together
do not retry together. A rate limit advises its own wait (Retry-After, X-RateLimit-Reset); we honour
it, cap it (a garbage 86400 must not park a worker for a day, docs/reliability.md V4) and add a
little jitter so that everybody waiting for the same reset does not arrive in the same millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

# An X-RateLimit-Reset below this is a delta in seconds, not an epoch
# (docs/outreach-api.md#rate-limits).
_EPOCH_THRESHOLD = 1e9


def next_delay(
    attempt: int,
    retry_after_s: float | None,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float],
    retry_after_cap: float = 900.0,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts failures, from 1).

    With an advised wait: that wait (capped at ``retry_after_cap``) plus up to ``base`` of jitter.
    Without: full jitter, ``rand() * min(cap, base * 2 ** (attempt - 1))``.
    """
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), retry_after_cap) + rand() * base
    exponent = min(max(attempt - 1, 0), 62)
    return rand() * min(cap, base * 2.0**exponent)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value.strip() if value is not None else None


def _seconds_until(value: str, now: float) -> float | None:
    """A Retry-After value (delta seconds, HTTP-date or ISO-8601) as seconds from ``now``."""
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            # Outreach's maintenance 503 reportedly carries an ISO timestamp (AEV, §5).
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """The advised wait in seconds from ``now`` (epoch): Retry-After, else X-RateLimit-Reset.

    Returns None for a missing, negative or garbage value (the caller then uses full jitter).
    """
    advised = _header(headers, "Retry-After")
    if advised:
        seconds = _seconds_until(advised, now)
        if seconds is not None:
            return seconds
    reset = _header(headers, "X-RateLimit-Reset")
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        if not math.isfinite(value) or value < 0:
            return None
        return max(value - now, 0.0) if value >= _EPOCH_THRESHOLD else value
    return None
