"""Running the workers: wire the store, the producer, the Outreach client and the roles together.

``run_workers`` is what ``leadgate run`` and ``leadgate dev`` call. SIGTERM or SIGINT sets the
stop event: the consume loops stop fetching, let their in-flight batches finish within
``kafka.drain_timeout_s``, commit what is finished, and the process exits 0. What was fetched but
not finished stays uncommitted and is delivered by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from aiokafka import AIOKafkaProducer

from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.kafka.producer import make_producer
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.handlers import build_dispatcher
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.store.sqlite import open_store
from leadgate.workers.delivery import DeliveryWorker
from leadgate.workers.processor import Processor

log = structlog.get_logger(__name__)


class Role(StrEnum):
    """Which stages one process runs."""

    ALL = "all"
    PROCESSOR = "processor"
    DELIVERY = "delivery"


@dataclass
class Workers:
    """The running workers of one process (tests and ``leadgate dev`` look inside)."""

    processor: Processor | None = None
    delivery: DeliveryWorker | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def started_producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer, flushed and stopped on the way out."""
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def workers(
    settings: Settings,
    role: Role,
    stop: asyncio.Event,
    *,
    store: StateStore | None = None,
    presets: PresetsHolder | None = None,
) -> AsyncIterator[Workers]:
    """Start the role's workers as tasks; on exit set ``stop`` and wait for their drain.

    ``store`` and ``presets`` may be shared with the HTTP service (``leadgate dev``); by default
    the SQLite store under ``settings.state_dir`` and the configured preset files are opened.
    """
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            opened = await open_store(settings.state_dir)
            stack.push_async_callback(opened.close)
            store = opened
        producer = await stack.enter_async_context(started_producer(settings))
        dead_letters = DeadLetterWriter(producer, settings.kafka)
        running = Workers()
        if role in (Role.ALL, Role.PROCESSOR):
            presets = presets or PresetsHolder(settings.pipeline.presets)
            running.processor = Processor(settings, store, producer, presets, dead_letters)
        if role in (Role.ALL, Role.DELIVERY):
            client = await stack.enter_async_context(OutreachClient(settings.outreach, store))
            dispatcher = build_dispatcher(client, store, settings.outreach)
            running.delivery = DeliveryWorker(settings, store, dispatcher, producer, dead_letters)
        for worker in (running.processor, running.delivery):
            if worker is not None:
                running.tasks.append(asyncio.create_task(worker.run(stop)))
        try:
            yield running
        finally:
            stop.set()
            await asyncio.gather(*running.tasks, return_exceptions=True)


async def run_until_signalled(settings: Settings, role: Role) -> int:
    """Run the role until SIGTERM/SIGINT; 0 after a clean drain, 1 if a worker crashed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("workers.starting", role=str(role), bootstrap=settings.kafka.bootstrap_servers)
    async with workers(settings, role, stop) as running:
        done, _ = await asyncio.wait(
            [*running.tasks, asyncio.create_task(stop.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        crashed = [t for t in running.tasks if t in done and t.exception() is not None]
        for task in crashed:
            log.error("worker.crashed", error=repr(task.exception()))
        stop.set()
    log.info("workers.stopped", role=str(role))
    return 1 if crashed else 0
