"""Starting a Kafka client so that a failed start leaves nothing open.

aiokafka's ``start()`` opens the client's connections before it can fail (no broker at the
address, a broker that does not answer, a cancelled start). A client whose start failed and
that nobody stops keeps those sockets until it is collected, and a consumer then warns
``Unclosed AIOKafkaConsumer`` wherever the garbage collector happens to run. A supervisor that
restarts a worker against a broker that is down would leave one behind per attempt.
"""

from __future__ import annotations

from typing import Protocol


class Startable(Protocol):
    """A client with aiokafka's ``start``/``stop`` pair (consumer and producer)."""

    async def start(self) -> None:
        """Connect."""

    async def stop(self) -> None:
        """Disconnect; safe on a client whose start failed."""


async def start_or_stop(client: Startable) -> None:
    """``await client.start()``; if it raises (or is cancelled), stop the client, then re-raise."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise
