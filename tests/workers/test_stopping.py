"""The pieces of a bounded stop: a poll that waits for the group is cancelled at the stop, a
step outside the poll is let finish, and a task that loses a cancellation is cancelled again."""

from __future__ import annotations

import asyncio

import pytest

from leadgate.settings import KafkaSettings
from leadgate.workers.stopping import cancel_all, consume_until, stop_bound_s


async def test_a_poll_that_waits_for_the_group_is_cancelled_at_the_stop() -> None:
    """The loop is inside a poll that would wait forever (a rebalance): the stop ends it."""
    stop = asyncio.Event()
    polling = True
    forever = asyncio.get_running_loop().create_future()

    async def steps() -> None:
        await forever

    running = asyncio.create_task(consume_until(stop, steps(), lambda: polling))
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=1.0)
    assert forever.cancelled()


async def test_a_step_outside_the_poll_finishes_before_the_loop_ends() -> None:
    """A commit under way when the stop comes is not cut in half: the loop ends after it."""
    stop = asyncio.Event()
    finished: list[str] = []

    async def steps() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.05)  # a commit
            finished.append("commit")

    running = asyncio.create_task(consume_until(stop, steps(), lambda: False))
    await asyncio.sleep(0.07)
    stop.set()
    await asyncio.wait_for(running, timeout=1.0)
    assert finished == ["commit", "commit"]


async def test_the_loops_own_error_is_raised() -> None:
    """A loop that fails is not mistaken for a stop."""
    stop = asyncio.Event()

    async def steps() -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):
        await consume_until(stop, steps(), lambda: False)


async def test_a_task_that_loses_a_cancellation_is_cancelled_again() -> None:
    """A task that swallows its first cancellation (as 3.11's wait_for can) still ends."""
    rounds: list[int] = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                rounds.append(1)
                if len(rounds) == 1:
                    continue  # the lost cancellation: it goes on with its next piece of work
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(cancel_all([task]), timeout=2.0)
    assert task.cancelled()
    assert len(rounds) == 2


def test_the_stop_bound_is_the_drain_plus_one_session_timeout() -> None:
    """What the supervisor's grace is built from."""
    settings = KafkaSettings(session_timeout_ms=6000, drain_timeout_s=10.0)
    assert stop_bound_s(settings) == 16.0
