"""A stop that always ends: how a consume loop leaves its group within a known bound.

A member asked to stop drains its in-flight work, commits what is finished and leaves its
group. Three things in aiokafka can make that wait for the *group* rather than for the member,
which is how a process stopped during a rebalance outlived its supervisor's grace (issue 16):

- ``getmany`` ignores its timeout while a reassignment is in progress: it waits for the next
  assignment (``Fetcher.fetched_records`` awaits ``wait_for_assignment()``). A loop that checks
  its stop event between polls sees it only once the group settles: after this member's revoke
  drain, a JoinGroup round (the embedded broker answers after half the session timeout; Kafka
  when every member rejoined, up to the rebalance timeout), a SyncGroup, and then it took new
  partitions and new work and drained *those* too. With members killed and restarted, rounds
  follow each other and the wait has no bound. So the poll is cancelled when the stop comes
  (:func:`consume_until`): records it had fetched stay uncommitted and are fetched again.
- ``consumer.commit`` retries retriable errors (coordinator moving, timeouts) without end, and
  ``consumer.stop`` awaits the coordination task, which may be inside a JoinGroup/SyncGroup
  round. Both get the time left in the leave budget (:func:`within`, :func:`leave`); what does not
  fit is abandoned: offsets not committed are redelivered (a duplicate, never a loss, and the
  writes are idempotent), and a member that did not say goodbye is dropped by the broker after
  the session timeout, as after a crash.
- A revoke that comes while the member is stopping drains against the same deadline as the
  stop itself instead of starting a second drain (``ConsumeLoop._drain_timeout``).

So a stop takes at most :func:`stop_bound_s`: ``drain_timeout_s`` for in-flight work, then one
session timeout to commit and leave. ``leadgate run --processes`` gives its children that long
(plus a margin for the producer and the store) before it kills one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from leadgate.observability.logging import get_logger
from leadgate.settings import KafkaSettings

log = get_logger(__name__)

T = TypeVar("T")
# Stops that outlived their bound go on in the background; keep them referenced until they end.
_leaving: set[asyncio.Task[None]] = set()
# How long a cancelled task gets before it is cancelled again (see cancel_all).
_RECANCEL_S = 0.1


def leave_budget_s(settings: KafkaSettings) -> float:
    """Time to commit and leave the group once the drain is over: one session timeout, after
    which the broker drops a silent member anyway."""
    return settings.session_timeout_ms / 1000


def stop_bound_s(settings: KafkaSettings) -> float:
    """The longest a consume loop takes from its stop event to leaving its group."""
    return settings.drain_timeout_s + leave_budget_s(settings)


async def consume_until(
    stop: asyncio.Event,
    steps: Coroutine[Any, Any, None],
    polling: Callable[[], bool],
) -> None:
    """Run ``steps`` (the poll loop; it returns once it sees ``stop``) until ``stop`` is set.
    If the loop is then inside a poll (``polling()``), that poll is cancelled rather than
    awaited: during a rebalance it would wait for the group (module docstring). Outside a poll
    the current step finishes (a commit, a dead letter), so no step is cut in half."""
    running = asyncio.create_task(steps)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done() and polling():
            running.cancel()
        await asyncio.wait({running})
    finally:
        stopped.cancel()
        if not running.done():  # we are cancelled ourselves
            running.cancel()
            await asyncio.wait({running})
    if not running.cancelled():
        running.result()  # the loop's own error, if it ended with one


async def within(timeout_s: float, call: Coroutine[Any, Any, T]) -> T:
    """``await call``, abandoned (cancelled, :class:`TimeoutError`) after ``timeout_s``."""
    return await asyncio.wait_for(call, max(timeout_s, 0.0))


def _left_late(task: asyncio.Task[None]) -> None:
    _leaving.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("consumer.leave_failed", error=repr(error))


async def leave(consumer: AIOKafkaConsumer, timeout_s: float, group: str) -> None:
    """``consumer.stop()`` (commit nothing more, leave the group, close), waited for at most
    ``timeout_s``; past that it goes on in the background and the process need not wait."""
    stopping = asyncio.create_task(consumer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=max(timeout_s, 0.0))
    if done:
        stopping.result()
        return
    _leaving.add(stopping)
    stopping.add_done_callback(_left_late)
    log.warning("consumer.leave_timeout", group=group, waited_s=round(timeout_s, 1))


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended. A task is cancelled again until it
    does: Python 3.11's ``asyncio.wait_for`` (used inside redis-py and around requests) returns
    the result of an inner call that completed just as it was cancelled, losing the
    cancellation, and the task then goes on with its next piece of work."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RECANCEL_S)
