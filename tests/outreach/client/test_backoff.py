"""next_delay() and retry_after(): when a failed request is tried again (P22, V4)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from leadgate.outreach.backoff import next_delay, retry_after

NOW = 1_700_000_000.0


def _top() -> float:
    return 1.0


def _bottom() -> float:
    return 0.0


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (500, 60.0)]
)
def test_full_jitter_grows_exponentially_up_to_the_cap(attempt: int, ceiling: float) -> None:
    """Without advice the wait is uniform in [0, min(cap, base * 2^(n-1))]."""
    assert next_delay(attempt, None, base=0.5, cap=60, rand=_top) == pytest.approx(ceiling)
    assert next_delay(attempt, None, base=0.5, cap=60, rand=_bottom) == 0.0


def test_advised_wait_is_honoured_with_a_little_jitter() -> None:
    """A Retry-After is waited out in full, plus at most ``base`` of jitter."""
    assert next_delay(1, 30.0, base=0.5, cap=60, rand=_bottom) == 30.0
    assert next_delay(1, 30.0, base=0.5, cap=60, rand=_top) == 30.5


def test_huge_advice_is_capped() -> None:
    """A Retry-After of a day does not park a worker for a day."""
    assert next_delay(1, 86_400, base=0.5, cap=60, rand=_bottom, retry_after_cap=900) == 900


def test_negative_advice_means_now() -> None:
    """A reset in the past means try again at once (plus jitter)."""
    assert next_delay(1, -5, base=0.5, cap=60, rand=_bottom) == 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "0"}, 0.0),
        (
            {"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 40, UTC), usegmt=True)},
            40.0,
        ),
        ({"Retry-After": "2023-11-14T22:14:00Z"}, 40.0),
        ({"X-RateLimit-Reset": str(int(NOW + 25))}, 25.0),
        ({"X-RateLimit-Reset": "7"}, 7.0),
        ({"X-RateLimit-Reset": str(int(NOW - 100))}, 0.0),
        ({"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW + 9))}, 9.0),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "banana"}, None),
        ({"X-RateLimit-Reset": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_parses_every_documented_form(
    headers: dict[str, str], expected: float | None
) -> None:
    """Seconds, HTTP-dates, ISO timestamps and epoch resets all become seconds from now."""
    got = retry_after(headers, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1.0)
