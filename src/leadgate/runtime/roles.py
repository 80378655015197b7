"""Worker roles: which workers one process runs, and how each is built.

A role names one worker (``processor``, ``delivery``, ``inbound``, ``callbacks``) or ``all``
of them. ``FACTORIES`` maps a worker's name to the function that builds it from the process's
:class:`Services`; a new worker is one factory and one entry here (and ``all`` includes it, or,
for a worker listed in ``CONFIGURED``, includes it once it is configured). :func:`workers` starts
the workers of a role as supervised tasks (:mod:`leadgate.runtime.supervise`: a worker that dies
is reported, makes the process unready, and is rebuilt by its factory and restarted or ends the
process) and, on the way out, sets the stop event and waits for their drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, cast

from aiokafka import AIOKafkaProducer

from leadgate.errors import ConfigError
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.outreach.callbacks import CallbackPoster
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.handlers import build_dispatcher
from leadgate.runtime.services import (
    open_presets,
    open_state_store,
    started_producer,
    suppression_list,
)
from leadgate.runtime.supervise import Run, Supervisor
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.workers.callbacks import CallbackWorker
from leadgate.workers.consumer import ConsumeLoop
from leadgate.workers.delivery import DeliveryWorker
from leadgate.workers.inbound import InboundRole, InboundWorker
from leadgate.workers.processor import Processor
from leadgate.workers.reconcile import Reconciler

# How often ``until_consuming`` looks whether every worker has joined its group.
_READY_POLL_S = 0.05


class Role(StrEnum):
    """Which workers one process runs."""

    ALL = "all"
    PROCESSOR = "processor"
    DELIVERY = "delivery"
    CALLBACKS = "callbacks"
    INBOUND = "inbound"


class Worker(Protocol):
    """What the runtime needs of a worker: a consume loop (readiness looks at it) and ``run``."""

    loop: ConsumeLoop

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain and commit."""


@dataclass
class Services:
    """What a worker factory may use; ``stack`` closes what a factory opens."""

    settings: Settings
    store: StateStore
    producer: AIOKafkaProducer
    dead_letters: DeadLetterWriter
    presets: PresetsHolder | None
    stack: contextlib.AsyncExitStack
    client: OutreachClient | None = None

    async def outreach(self) -> OutreachClient:
        """The process's one Outreach client (one rate budget for delivery and the poller)."""
        if self.client is None:
            self.client = await self.stack.enter_async_context(
                OutreachClient(self.settings.outreach, self.store)
            )
        return self.client

    def live_presets(self) -> PresetsHolder:
        """The shared presets holder, loaded on first use."""
        if self.presets is None:
            self.presets = open_presets(self.settings)
        return self.presets


WorkerFactory = Callable[[Services], Awaitable[Worker]]


async def _processor(services: Services) -> Worker:
    s = services
    return Processor(s.settings, s.store, s.producer, s.live_presets(), s.dead_letters)


async def _delivery(services: Services) -> Worker:
    s = services
    suppressions = suppression_list(s.settings, s.store)
    dispatcher = build_dispatcher(await s.outreach(), s.store, s.settings.outreach, suppressions)
    return DeliveryWorker(s.settings, s.store, dispatcher, s.producer, s.dead_letters)


async def _callbacks(services: Services) -> Worker:
    s = services
    if s.settings.outcomes.callback_url is None:
        raise ConfigError("the callbacks worker needs outcomes.callback_url (and callback_secret)")
    poster = await s.stack.enter_async_context(CallbackPoster(s.settings.outcomes))
    return CallbackWorker(s.settings, poster, s.dead_letters)


async def _inbound(services: Services) -> Worker:
    s = services
    worker = InboundWorker(s.settings, s.store, s.producer, s.dead_letters)
    # Two-way sync is on once Outreach may sign webhooks for us; then the poll backs them up.
    reconciler = None
    if s.settings.outreach.webhook_secrets:
        reconciler = Reconciler(s.settings, await s.outreach(), s.store, s.producer)
    return InboundRole(worker, reconciler)


FACTORIES: dict[str, WorkerFactory] = {
    Role.PROCESSOR: _processor,
    Role.DELIVERY: _delivery,
    Role.INBOUND: _inbound,
    Role.CALLBACKS: _callbacks,
}

# Workers that ``all`` runs only when configured (a named role runs them regardless, and a
# factory says what is missing).
CONFIGURED: dict[str, Callable[[Settings], bool]] = {
    Role.CALLBACKS: lambda settings: settings.outcomes.callback_url is not None,
}


def names_of(role: Role, settings: Settings | None = None) -> tuple[str, ...]:
    """The workers a role runs (with ``settings``: ``all`` leaves out unconfigured ones)."""
    if role is not Role.ALL:
        return (str(role),)
    return tuple(
        name
        for name in FACTORIES
        if settings is None or name not in CONFIGURED or CONFIGURED[name](settings)
    )


@dataclass
class Workers:
    """The running workers of one process (tests and ``leadgate dev`` look inside)."""

    supervisor: Supervisor
    by_name: dict[str, Worker] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def processor(self) -> Processor | None:
        """The processor, when this process runs one."""
        return cast("Processor | None", self.by_name.get(Role.PROCESSOR))

    @property
    def delivery(self) -> DeliveryWorker | None:
        """The delivery worker, when this process runs one."""
        return cast("DeliveryWorker | None", self.by_name.get(Role.DELIVERY))

    @property
    def inbound(self) -> InboundRole | None:
        """The inbound worker and the reconciliation poller, when this process runs them."""
        return cast("InboundRole | None", self.by_name.get(Role.INBOUND))

    def consuming(self) -> bool:
        """True once every worker's consumer has joined its group (its first assignment), while
        none has died and no partition is stopped at a batch it cannot decode."""
        joined = all(worker.loop.joined.is_set() for worker in self.by_name.values())
        return joined and not self.problems()

    def problems(self) -> list[str]:
        """Why the workers are not all doing their work: dead or restarting workers, partitions
        stopped at an undecodable batch (empty: none)."""
        halted = [
            halt.describe()
            for worker in self.by_name.values()
            for halt in worker.loop.bad_batches.halted.values()
        ]
        return [*self.supervisor.problems(), *halted]

    async def until_consuming(self) -> None:
        """Wait until every worker has joined its group, or until a supervised task ends (it
        then tells why). A worker restarted meanwhile is waited for in its new form."""
        while not all(w.loop.joined.is_set() for w in self.by_name.values()):
            if any(task.done() for task in self.tasks):
                return
            await asyncio.sleep(_READY_POLL_S)


def _rebuilder(name: str, services: Services, running: Workers) -> Callable[[], Awaitable[Run]]:
    """A fresh worker ``name`` from its factory (it replaces the dead one in ``running``)."""

    async def rebuild() -> Run:
        worker = await FACTORIES[name](services)
        running.by_name[name] = worker
        return worker.run

    return rebuild


def _freeze_startup_objects() -> None:
    """Leave what starting made (modules, settings, clients, presets) out of the cyclic garbage
    collector's full passes from now on: a full pass scanned all of it and stopped the event
    loop for ~90 ms about every 5 s at 500 events/s (bench P5 with ``gc.callbacks``: 92.6 ms
    before, 8.5 ms after; it showed as the slowest leads). Garbage is collected first, so only
    live objects are frozen."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def workers(
    settings: Settings,
    role: Role,
    stop: asyncio.Event,
    *,
    store: StateStore | None = None,
    presets: PresetsHolder | None = None,
    producer: AIOKafkaProducer | None = None,
    supervisor: Supervisor | None = None,
) -> AsyncIterator[Workers]:
    """Start the role's workers as supervised tasks; on exit set ``stop`` and wait for their
    drain.

    ``store``, ``presets`` and ``producer`` may be shared with the HTTP service; by default each
    is opened here (:mod:`leadgate.runtime.services`) and closed on the way out. ``supervisor``
    decides what happens to a worker that dies (default: no restart, the process ends).
    """
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            store = await open_state_store(settings)
            stack.push_async_callback(store.close)
        if producer is None:
            producer = await stack.enter_async_context(started_producer(settings))
        services = Services(
            settings, store, producer, DeadLetterWriter(producer, settings.kafka), presets, stack
        )
        running = Workers(supervisor or Supervisor(stop, restart=False))
        for name in names_of(role, settings):
            running.by_name[name] = await FACTORIES[name](services)
        _freeze_startup_objects()
        # on the way out they are the collector's again: a process that starts workers more
        # than once (the tests, `leadgate dev` restarts) must not keep every start's objects
        stack.callback(gc.unfreeze)
        for name, worker in running.by_name.items():
            rebuild = _rebuilder(name, services, running)
            running.tasks.append(running.supervisor.start(name, worker.run, rebuild))
        try:
            yield running
        finally:
            stop.set()
            await asyncio.gather(*running.tasks, return_exceptions=True)
