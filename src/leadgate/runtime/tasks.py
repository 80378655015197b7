"""Background tasks tied to an exit stack: started now, stopped (and waited for) when it closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from leadgate.observability.logging import get_logger
from leadgate.runtime.supervise import Supervisor

log = get_logger(__name__)
# The longest a background task (the trace consumer leaving its group) may take to stop.
BACKGROUND_STOP_S = 10.0


def run_in_background(
    stack: contextlib.AsyncExitStack,
    name: str,
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    *,
    stop_timeout_s: float = BACKGROUND_STOP_S,
    supervisor: Supervisor | None = None,
) -> asyncio.Task[None]:
    """Run ``run(stop)`` as a task until ``stack`` closes: then set ``stop`` and wait for it
    (cancelled after ``stop_timeout_s``). A task that ended with an error is logged. Under a
    ``supervisor`` a task that dies before that is reported and restarted (or ends the process)
    like a worker."""
    stop = asyncio.Event()
    if supervisor is not None:
        task = supervisor.start(name, run, kind="background", stop=stop)
    else:
        task = asyncio.create_task(run(stop), name=name)

    async def stop_it() -> None:
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), stop_timeout_s)
        except TimeoutError:
            task.cancel()
        except Exception as exc:  # the task's own error: it has stopped, say why
            log.exception("background.failed", task=name, error=repr(exc))

    stack.push_async_callback(stop_it)
    return task
