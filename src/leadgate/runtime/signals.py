"""Signal handling, once for every command: SIGTERM or SIGINT sets the process's stop event.

What happens next is the commands' common shutdown: the consume loops stop fetching, let their
in-flight batches finish within ``kafka.drain_timeout_s`` and commit what is finished; the HTTP
service stops taking requests and answers those in flight; the producer is flushed.
"""

from __future__ import annotations

import asyncio
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (instead of raising KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
