"""Supervision of a process's long-running tasks: a worker never dies quietly.

Every worker of a role (processor, delivery, and any worker added to the roles table) and every
background task (the inspector's trace feed, the preset watcher) runs under a
:class:`Supervisor`. A task that ends while the process was not asked to stop — with an error, or
by returning (a consumer that stopped by itself) — has *died*:

- an error line says which task and why (``worker.died``);
- the process is not ready: :meth:`Supervisor.problems` names it, ``/readyz`` answers 503 with
  those lines and ``leadgate_worker_up{worker}`` is 0;
- with ``restart`` (``leadgate dev``, and the background tasks of ``leadgate serve``) it is built
  again and restarted after an exponential backoff (``worker.restarting`` says when; the backoff
  starts again from its base once a run lasted ``stable_after_s``); without (``leadgate run``:
  its orchestrator, or ``--processes``, restarts the process) the supervised task ends with
  :class:`WorkerDied` and the process exits non-zero.

It never keeps a process accepting events that nothing will process without saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import WORKER_RESTARTS, WORKER_UP

log = get_logger(__name__)

Run = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
Rebuild = Callable[[], Awaitable[Run]]


class TaskState(StrEnum):
    """Where a supervised task is in its life."""

    RUNNING = "running"
    RESTARTING = "restarting"
    DIED = "died"
    STOPPED = "stopped"


class WorkerDied(RuntimeError):
    """A supervised task ended without being asked to, and is not restarted."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name} died: {why}")
        self.name = name
        self.why = why


@dataclass(slots=True)
class TaskHealth:
    """The supervisor's view of one task."""

    name: str
    state: TaskState = TaskState.RUNNING
    why: str | None = None
    restarts: int = 0
    restart_in_s: float | None = None

    def problem(self) -> str | None:
        """One line for ``/readyz`` when the task is not running, else None."""
        if self.state is TaskState.RESTARTING:
            return (
                f"{self.name}: died ({self.why}); restarting in {self.restart_in_s:.1f} s "
                f"(restart {self.restarts + 1})"
            )
        if self.state is TaskState.DIED:
            return f"{self.name}: died ({self.why}); not restarted"
        return None


def _why(error: BaseException | None) -> str:
    if error is None:
        return "it returned without being asked to stop"
    return f"{type(error).__name__}: {error}"[:300]


class Supervisor:
    """Runs named tasks until ``stop`` and deals with the ones that die (module docstring)."""

    def __init__(
        self,
        stop: asyncio.Event,
        *,
        restart: bool,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        stable_after_s: float = 60.0,
    ) -> None:
        self._stop = stop
        self.restart = restart
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._stable_after = stable_after_s
        self.health: dict[str, TaskHealth] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(
        self,
        name: str,
        run: Run,
        rebuild: Rebuild | None = None,
        *,
        kind: str = "worker",
        stop: asyncio.Event | None = None,
    ) -> asyncio.Task[None]:
        """Run ``run(stop)`` as the task ``name``; ``rebuild`` makes a fresh ``run`` for a
        restart (None: restart the same one); ``stop`` is the task's own stop event (default:
        the supervisor's)."""
        self.health[name] = TaskHealth(name)
        WORKER_UP.labels(worker=name).set(1)
        task = asyncio.create_task(
            self._supervise(name, run, rebuild, kind, stop or self._stop), name=name
        )
        self.tasks.append(task)
        return task

    def problems(self) -> list[str]:
        """A line for each task that is not running (empty: all is well)."""
        return [line for h in self.health.values() if (line := h.problem()) is not None]

    def healthy(self) -> bool:
        """True while no supervised task is dead or waiting for its restart."""
        return not self.problems()

    async def _supervise(
        self, name: str, run: Run, rebuild: Rebuild | None, kind: str, stop: asyncio.Event
    ) -> None:
        health = self.health[name]
        attempt = 0
        unbuilt: Exception | None = None  # a rebuild that failed counts as the next death
        while True:
            started = time.monotonic()
            error = unbuilt
            if unbuilt is None:
                try:
                    await run(stop)
                except Exception as exc:  # the task's own failure: reported, never swallowed
                    error = exc
            unbuilt = None
            if stop.is_set() and error is None:
                health.state = TaskState.STOPPED
                return
            health.why = _why(error)
            WORKER_UP.labels(worker=name).set(0)
            if stop.is_set():  # failed while draining: say so, exit non-zero
                health.state = TaskState.DIED
                log.error(f"{kind}.died", worker=name, error=health.why, action="stopping")
                raise WorkerDied(name, health.why)
            if time.monotonic() - started >= self._stable_after:
                attempt = 0
            delay = min(self._cap, self._base * 2**attempt)
            log.error(
                f"{kind}.died",
                worker=name,
                error=health.why,
                action=f"restarting in {delay:.1f} s" if self.restart else "exiting",
            )
            if not self.restart:
                health.state = TaskState.DIED
                raise WorkerDied(name, health.why)
            health.state, health.restart_in_s = TaskState.RESTARTING, delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                health.state = TaskState.STOPPED
                return
            attempt += 1
            health.restarts += 1
            WORKER_RESTARTS.labels(worker=name).inc()
            try:
                run = await rebuild() if rebuild is not None else run
            except Exception as exc:
                unbuilt = exc
                continue
            health.state, health.restart_in_s = TaskState.RUNNING, None
            WORKER_UP.labels(worker=name).set(1)
            log.warning(f"{kind}.restarted", worker=name, restarts=health.restarts)
