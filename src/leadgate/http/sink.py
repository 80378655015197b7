"""Producing accepted events to Kafka, with a bounded wait and a bounded number in flight.

The collector answers 200 only once the broker acknowledged every event of the request (the
producer runs with ``acks="all"``). When the broker is away, ``publish`` gives up after
``timeout_s`` (aiokafka's ``send`` coroutine is cancelled, which withdraws a record it has not
buffered yet) and the client gets a 503 to retry. The count of produces not yet acknowledged is
capped: beyond it requests fail at once instead of queueing memory (docs/reliability.md P1, P2).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError

from leadgate.http.events import Prepared


class Unavailable(Exception):
    """The broker did not acknowledge in time, or too many produces are pending."""


class EventSink:
    """The events topic behind an aiokafka producer that the caller started."""

    def __init__(self, producer: Any, topic: str, *, timeout_s: float, max_pending: int) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s
        self._max_pending = max_pending
        self.pending = 0

    async def publish(self, records: Sequence[Prepared]) -> None:
        """Produce ``records`` and wait for every acknowledgement; :class:`Unavailable` if not."""
        if self.pending + len(records) > self._max_pending:
            raise Unavailable("too many produces pending")
        self.pending += len(records)
        try:
            await asyncio.wait_for(self._send_all(records), self._timeout_s)
        except (TimeoutError, KafkaError) as exc:
            raise Unavailable(type(exc).__name__) from None
        finally:
            self.pending -= len(records)

    async def _send_all(self, records: Sequence[Prepared]) -> None:
        futures: list[asyncio.Future[Any]] = []
        try:
            for record in records:
                futures.append(
                    await self._producer.send(self._topic, value=record.value, key=record.key)
                )
            await asyncio.gather(*futures)
        except BaseException:
            # Nobody will look at these results any more; mark their exceptions retrieved.
            for future in futures:
                if not future.done():
                    future.add_done_callback(_consume_exception)
                else:
                    _consume_exception(future)
            raise

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """Whether the producer holds a live connection to at least one broker."""
        client = self._producer.client
        with contextlib.suppress(TimeoutError, KafkaError, OSError):
            for broker in client.cluster.brokers():
                if await asyncio.wait_for(client.ready(broker.nodeId), timeout_s):
                    return True
        return False


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
