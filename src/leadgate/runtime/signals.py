"""Signal handling, once for every command: SIGTERM or SIGINT sets the process's stop event.

What happens next is the commands' common shutdown: the consume loops stop fetching, let their
in-flight batches finish within ``kafka.drain_timeout_s`` and commit what is finished; the HTTP
service stops taking requests and answers those in flight; the producer is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import signal
import sys
import time
from collections.abc import Iterator
from typing import TextIO

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (instead of raising KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    dump_tasks_on_signal()


@contextlib.contextmanager
def stopping_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """:func:`stop_on_signals` for a block; the loop's handlers are removed on the way out."""
    stop_on_signals(stop)
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def dump_tasks(out: TextIO | None = None) -> None:
    """Write every asyncio task of the running loop and the chain of awaits it waits in, down
    to the innermost coroutine (SIGUSR1): where a stop that does not finish waits."""
    out = out or sys.stderr
    tasks = asyncio.all_tasks()
    out.write(f"--- {len(tasks)} asyncio tasks at {time.time():.3f}\n")
    for task in tasks:
        out.write(f"task {task.get_name()}:\n")
        awaited: object = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                out.write(f"    awaits {awaited!r}\n"[:400])
                break
            code = frame.f_code
            out.write(f"    {code.co_filename}:{frame.f_lineno} {code.co_name}\n")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    out.flush()


def dump_tasks_on_signal() -> None:
    """SIGUSR1 dumps the asyncio tasks (:func:`dump_tasks`); SIGUSR2 every thread's stack,
    even when the event loop is blocked (``faulthandler``)."""
    # fd 2 itself: sys.stderr may be a stream without a file descriptor (pytest's capture).
    faulthandler.register(signal.SIGUSR2, file=2, all_threads=True)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
