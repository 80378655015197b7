"""Several worker processes of one role, supervised: ``leadgate run --processes N``.

The processor is CPU-bound (one core per process), so it scales by adding processes to its
consumer group, not coroutines. The supervisor starts N children, each a plain
``leadgate run --role <role>`` (so each joins the role's consumer group and opens the configured
state store: with Redis, profiles, budget and tokens are shared by all of them); it forwards
SIGTERM/SIGINT to them and waits for their drain. A child that dies (a crash, an OOM kill, a
``kill -9``) is started again after ``RESTART_DELAY_S``: Kafka hands its partitions to the
others meanwhile and gives some back when it rejoins; what it had not committed is redelivered.

A child's stop is bounded (``workers/stopping.py``: the drain, then one session timeout to
commit and leave the group, even while the group rebalances); the supervisor waits that long plus
a margin (:func:`stop_grace_s`). A child still running then is asked for a dump of its asyncio
tasks (SIGUSR1, written to its log: where it waits) and killed.

The supervisor exits 0 when every child drained cleanly after a stop signal, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from leadgate.observability.logging import get_logger
from leadgate.runtime.signals import stop_on_signals
from leadgate.settings import KafkaSettings
from leadgate.workers.stopping import stop_bound_s

log = get_logger(__name__)

RESTART_DELAY_S = 1.0
# Beyond a consume loop's own bound: flushing the producer, closing the store, the interpreter.
STOP_MARGIN_S = 10.0
# How long a child that outlived its grace gets to write its task dump before the kill.
_DUMP_WAIT_S = 1.0


def stop_grace_s(settings: KafkaSettings) -> float:
    """How long a child gets from SIGTERM to its exit before it is killed."""
    return stop_bound_s(settings) + STOP_MARGIN_S


def child_command(role: str, extra: Sequence[str] = ()) -> list[str]:
    """The command line of one child: this interpreter running ``leadgate run --role``."""
    return [sys.executable, "-m", "leadgate.cli", "run", "--role", role, *extra]


async def _child(index: int, command: list[str], stop: asyncio.Event, grace_s: float) -> int:
    """Run one child slot until ``stop``; restart it whenever it dies on its own."""
    while True:
        process = await asyncio.create_subprocess_exec(*command)
        log.info("supervisor.child.started", slot=index, pid=process.pid)
        waiting = asyncio.create_task(process.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            stopping.cancel()
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            status = await _stopped(index, process, waiting, grace_s)
            if status == -signal.SIGTERM:
                # Killed by the signal's default action: the child was still starting (its
                # handler is installed before it opens anything), so it had no work to drain.
                status = 0
            if status != 0:
                log.warning(
                    "supervisor.child.unclean_stop", slot=index, pid=process.pid, status=status
                )
            return status
        stopping.cancel()
        log.warning("supervisor.child.died", slot=index, pid=process.pid, status=process.returncode)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RESTART_DELAY_S)
        if stop.is_set():
            return 1


async def _stopped(
    index: int, process: asyncio.subprocess.Process, waiting: asyncio.Task[int], grace_s: float
) -> int:
    """The child's exit status once it stopped, or after its grace: a task dump, then a kill."""
    done, _ = await asyncio.wait({waiting}, timeout=grace_s)
    if done:
        return waiting.result()
    log.error("supervisor.child.stop_timeout", slot=index, pid=process.pid, grace_s=grace_s)
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGUSR1)
    done, _ = await asyncio.wait({waiting}, timeout=_DUMP_WAIT_S)
    if not done:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return await waiting


async def supervise(role: str, processes: int, extra: Sequence[str] = (), *, grace_s: float) -> int:
    """Run ``processes`` children of ``role`` until SIGTERM/SIGINT, giving each ``grace_s`` to
    stop (:func:`stop_grace_s`); see the module docstring."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    command = child_command(role, extra)
    log.info("supervisor.starting", role=role, processes=processes, stop_grace_s=grace_s)
    statuses = await asyncio.gather(*(_child(i, command, stop, grace_s) for i in range(processes)))
    log.info("supervisor.stopped", role=role, statuses=list(statuses))
    return 0 if all(status == 0 for status in statuses) else 1
