"""One processor's traces, handed to the producer by one writer, merged while it waits.

Handing a record batch to aiokafka (``send_batch``) waits until the partition's previous batch
has left, i.e. up to a broker round trip per partition. When each processor batch handed its
own ``TraceBatch`` over (``kafka/traces.py``), the batches of six partitions, and of every batch
in flight, waited on the same trace partitions; each departure woke them all (bench ``p5_hops``
under cProfile: 40,000 ``add_batch`` wake-ups, a fifth of the process's CPU, in 10 s at 500
events/s) and the partition's next batch waited for its own traces to be handed over.

Here every batch adds its traces to the one *open* ``TraceBatch``; ``written()`` returns a
future for them and starts the writer if it is idle. The writer takes the open batch (a fresh
one opens at once), hands it over, and goes on while more was asked for, so the traces added
meanwhile leave together: at most one hand-over waits at a time. A generation's future
resolves once its acknowledgements are in and the previous generation's resolved, so awaiting
the future ``written()`` returned means every trace added before it is written. A trace is best
effort: failures are logged by ``TraceBatch``, never raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from leadgate.kafka.traces import TraceBatch
from leadgate.settings import Settings
from leadgate.workers.stopping import cancel_all


class TraceWriter:
    """The open trace batch of one producer and the writer that hands it over."""

    def __init__(self, producer: Any, settings: Settings) -> None:
        self._producer = producer
        self._settings = settings
        self._partitions: list[int] | None = None
        self._open: TraceBatch | None = None
        self._open_written: asyncio.Future[None] | None = None
        self._last_written: asyncio.Future[None] | None = None
        self._wanted = False
        self._writer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def ready(self) -> TraceWriter:
        """Itself, once the traces topic's partitions are known (``add`` then never waits)."""
        if self._partitions is None:
            topic = self._settings.kafka.traces_topic
            self._partitions = sorted(await self._producer.partitions_for(topic))
        return self

    def add(self, message_id: str, record: dict[str, Any]) -> None:
        """Add one trace record (keyed by ``message_id``) to the open batch."""
        if self._open is None:
            assert self._partitions is not None, "add() before ready()"
            topic = self._settings.kafka.traces_topic
            self._open = TraceBatch(self._producer, topic, self._partitions)
            self._open_written = asyncio.get_running_loop().create_future()
        self._open.add(message_id, record)

    def written(self) -> asyncio.Future[None]:
        """A future that resolves once every trace added so far is acknowledged (or failed)."""
        if self._open_written is None:  # nothing added since the last hand-over
            last = self._last_written
            if last is not None:
                return last
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        self._wanted = True
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return self._open_written

    async def close(self) -> None:
        """Stop the writer; traces not handed over yet are not written."""
        await cancel_all([*self._tasks, *([self._writer] if self._writer else [])])

    async def _write(self) -> None:
        try:
            while self._wanted and self._open is not None:
                self._wanted = False
                batch, done = self._open, self._open_written
                assert done is not None
                self._open = self._open_written = None
                acks = await batch.send()
                previous, self._last_written = self._last_written, done
                task = asyncio.create_task(_resolve(done, previous, acks))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self._writer = None


async def _resolve(
    done: asyncio.Future[None],
    previous: asyncio.Future[None] | None,
    acks: Sequence[asyncio.Future[Any]],
) -> None:
    await asyncio.gather(*acks)  # TraceBatch's acknowledgements never fail
    if previous is not None:
        await previous
    if not done.done():
        done.set_result(None)
