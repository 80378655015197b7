"""Signal handling, once for every command: SIGTERM or SIGINT sets the process's stop event.

What happens next is the commands' common shutdown: the consume loops stop fetching, let their
in-flight batches finish within ``kafka.drain_timeout_s`` and commit what is finished; the HTTP
service stops taking requests and answers those in flight; the producer is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (instead of raising KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)


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
