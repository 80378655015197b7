"""Several worker processes of one role, supervised: ``leadgate run --processes N``.

The processor is CPU-bound (one core per process), so it scales by adding processes to its
consumer group, not coroutines. The supervisor starts N children, each a plain
``leadgate run --role <role>`` (so each joins the role's consumer group and opens the configured
state store: with Redis, profiles, budget and tokens are shared by all of them); it forwards
SIGTERM/SIGINT to them and waits for their drain. A child that dies (a crash, an OOM kill, a
``kill -9``) is started again after ``RESTART_DELAY_S``: Kafka hands its partitions to the
others meanwhile and gives some back when it rejoins; what it had not committed is redelivered.

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

log = get_logger(__name__)

RESTART_DELAY_S = 1.0
# How long children get to drain after the stop signal before they are killed.
_STOP_GRACE_S = 60.0


def child_command(role: str, extra: Sequence[str] = ()) -> list[str]:
    """The command line of one child: this interpreter running ``leadgate run --role``."""
    return [sys.executable, "-m", "leadgate.cli", "run", "--role", role, *extra]


async def _child(index: int, command: list[str], stop: asyncio.Event) -> int:
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
            try:
                status = await asyncio.wait_for(waiting, _STOP_GRACE_S)
            except TimeoutError:
                process.kill()
                status = await process.wait()
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


async def supervise(role: str, processes: int, extra: Sequence[str] = ()) -> int:
    """Run ``processes`` children of ``role`` until SIGTERM/SIGINT; see the module docstring."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    command = child_command(role, extra)
    log.info("supervisor.starting", role=role, processes=processes)
    statuses = await asyncio.gather(*(_child(i, command, stop) for i in range(processes)))
    log.info("supervisor.stopped", role=role, statuses=list(statuses))
    return 0 if all(status == 0 for status in statuses) else 1
