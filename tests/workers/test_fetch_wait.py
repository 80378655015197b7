"""The fetch wait: short while records flow, the configured wait once they stopped."""

from __future__ import annotations

from types import SimpleNamespace

from leadgate.workers.fetch_wait import FLOWING_FETCH_WAIT_MS, FLOWING_FOR_S, FetchWait
from tests.plugins.clock import FakeClock


def _consumer(wait_ms: int) -> SimpleNamespace:
    # aiokafka's consumer reads the wait from its fetcher for every fetch request it builds
    return SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=wait_ms))


def test_flowing_records_shorten_the_wait_and_an_idle_spell_restores_it() -> None:
    clock = FakeClock(100.0)
    wait = FetchWait(500, clock)
    consumer = _consumer(500)

    wait.apply(consumer, flowing=True)
    assert consumer._fetcher._fetch_max_wait_ms == FLOWING_FETCH_WAIT_MS

    clock.now += FLOWING_FOR_S / 2  # an empty poll soon after: records still count as flowing
    wait.apply(consumer, flowing=False)
    assert consumer._fetcher._fetch_max_wait_ms == FLOWING_FETCH_WAIT_MS

    clock.now += FLOWING_FOR_S  # no records for longer than that: an idle worker must not spin
    wait.apply(consumer, flowing=False)
    assert consumer._fetcher._fetch_max_wait_ms == 500


def test_a_configured_wait_shorter_than_the_flowing_one_is_kept() -> None:
    wait = FetchWait(1, FakeClock(100.0))
    consumer = _consumer(1)
    wait.apply(consumer, flowing=True)
    assert consumer._fetcher._fetch_max_wait_ms == 1


def test_a_consumer_without_a_fetcher_yet_is_left_alone() -> None:
    consumer = SimpleNamespace()  # before start() aiokafka has no fetcher
    FetchWait(500, FakeClock(100.0)).apply(consumer, flowing=True)
    assert not hasattr(consumer, "_fetcher")
