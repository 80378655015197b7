"""The one retry policy: (state, error, now) -> retry after D | give up, without sleeping."""

from __future__ import annotations

from leadgate.errors import PermanentError, RateLimited, RetriableError
from leadgate.outreach.retry import GiveUp, Retry, RetryPolicy, RetryState

POLICY = RetryPolicy(backoff_base_s=1.0, backoff_cap_s=60.0, retry_after_cap_s=900.0,
                     retry_window_s=100.0)  # fmt: skip


def _five_oh_three() -> RetriableError:
    return RetriableError("Outreach answered 503", reason="vendor_5xx", status=503)


def _full(_: float = 0.0) -> float:
    return 1.0


def test_a_permanent_error_gives_up_at_once_with_its_own_reason() -> None:
    """A 422 is dead-lettered after one try, as vendor_validation, never as a window reason."""
    error = PermanentError("rejected", reason="vendor_validation", status=422)
    decision = POLICY.decide(RetryState(), error, 10.0, rand=_full)
    assert decision == GiveUp("vendor_validation", RetryState(10.0, 1, 1))


def test_transient_failures_back_off_exponentially_and_name_the_failure() -> None:
    """Each 503 doubles the ceiling of the (full-jitter) wait; the reason is vendor_5xx."""
    state, delays = RetryState(), []
    for now in (0.0, 1.0, 3.0, 7.0):
        decision = POLICY.decide(state, _five_oh_three(), now, rand=_full)
        assert isinstance(decision, Retry)
        assert decision.reason == "vendor_5xx"
        delays.append(decision.after_s)
        state = decision.state
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert (state.first_failure, state.failures, state.tries, state.attempt) == (0.0, 4, 4, 5)


def test_a_429_waits_for_the_reset_and_does_not_grow_the_backoff() -> None:
    """A rate limit waits the advised 30 s (plus jitter up to the base) and is not a failure."""
    error = RateLimited("slow down", retry_after_s=30.0)
    decision = POLICY.decide(RetryState(), error, 0.0, rand=lambda: 0.5)
    assert decision == Retry(30.5, "rate_limited", RetryState(0.0, 0, 1))


def test_the_window_is_measured_from_the_first_failure_and_never_overrun() -> None:
    """A retry is never scheduled past first failure + window; a failure after it gives up
    as retry_window_exhausted, the only way to that reason."""
    state = RetryState(first_failure=0.0, failures=9, tries=9)
    last = POLICY.decide(state, _five_oh_three(), 90.0, rand=_full)
    assert isinstance(last, Retry)
    assert last.after_s == 10.0
    spent = POLICY.decide(last.state, _five_oh_three(), 100.0, rand=_full)
    assert spent == GiveUp("retry_window_exhausted", RetryState(0.0, 11, 11))


def test_during_an_outage_an_outage_failure_retries_at_once_behind_the_gate() -> None:
    """While the health gate is closed a 503 retries with no delay of its own (the gate paces
    it); a 422-like failure or a 429 keep their own path."""
    outage = POLICY.decide(RetryState(), _five_oh_three(), 0.0, rand=_full, outage=True)
    assert isinstance(outage, Retry)
    assert outage.after_s == 0.0
    unreachable = RetriableError("refused", reason="vendor_unreachable")
    assert POLICY.decide(RetryState(), unreachable, 0.0, rand=_full, outage=True) == Retry(
        0.0, "vendor_unreachable", RetryState(0.0, 1, 1)
    )
    limited = POLICY.decide(
        RetryState(), RateLimited("x", retry_after_s=5.0), 0.0, rand=_full, outage=True
    )
    assert isinstance(limited, Retry)
    assert limited.after_s == 6.0
