"""One process of leadgate: the workers of a role and/or the HTTP service, over shared services.

Every long-running command builds itself here: ``leadgate run`` (workers), ``leadgate serve``
(HTTP), ``leadgate dev`` (both, after starting the embedded broker and the sandbox). A process is
*ready* when its HTTP service listens and every worker consumes (its group joined, partitions
assigned); ``/readyz`` answers 200 only then, and :meth:`Host.ready` waits for it.

Its workers and background tasks run under one :class:`Supervisor`: one that dies is reported
and turns ``/readyz`` to 503; with ``restart`` (``dev``, ``serve``) it is restarted after a
backoff, without (``run``) the process exits 1 (:mod:`leadgate.runtime.supervise`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from leadgate.kafka.broker import tuned_for_broker
from leadgate.observability.logging import get_logger
from leadgate.runtime.http import HttpService, serve_http, watch_presets
from leadgate.runtime.roles import Role, Workers, names_of, workers
from leadgate.runtime.services import open_presets, open_state_store, started_producer
from leadgate.runtime.signals import stop_on_signals
from leadgate.runtime.supervise import Supervisor
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder

log = get_logger(__name__)


@dataclass
class Host:
    """A running process: its stop event, its workers (if any), its HTTP service (if any)."""

    settings: Settings
    stop: asyncio.Event
    supervisor: Supervisor
    workers: Workers | None = None
    http: HttpService | None = None

    def problems(self) -> list[str]:
        """What does not work right now (``/readyz`` shows it): dead or restarting tasks,
        partitions stopped at an undecodable batch."""
        if self.workers is not None:
            return self.workers.problems()
        return self.supervisor.problems()

    async def ready(self) -> None:
        """Wait until every worker consumes (returns early if one stopped: see ``wait``)."""
        if self.workers is not None:
            await self.workers.until_consuming()

    async def wait(self) -> int:
        """Run until ``stop`` is set or a supervised task ends for good (a worker that died and
        is not restarted); 0 after a clean stop, 1 if a task died."""
        tasks = self.supervisor.tasks
        stopped = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        log.info("process.stopping", draining=self.workers is not None)
        crashed = [
            error
            for task in tasks
            if task.done() and not task.cancelled() and (error := task.exception()) is not None
        ]
        for error in crashed:
            log.error("worker.crashed", error=repr(error))
        self.stop.set()
        return 1 if crashed else 0


@contextlib.asynccontextmanager
async def host(
    settings: Settings,
    *,
    role: Role | None,
    http: bool,
    stop: asyncio.Event | None = None,
    store: StateStore | None = None,
    presets: PresetsHolder | None = None,
    producer_id: str = "leadgate",
    restart: bool = False,
) -> AsyncIterator[Host]:
    """Open the services, start the role's workers (``role=None``: none) and the HTTP service;
    on exit stop everything in reverse order (HTTP first, then the workers drain). ``restart``:
    a worker or background task that dies is restarted after a backoff instead of ending the
    process."""
    stop = stop or asyncio.Event()
    supervisor = Supervisor(stop, restart=restart)
    settings = settings.model_copy(update={"kafka": await tuned_for_broker(settings.kafka)})
    log.info("process.starting", role=str(role), http=http, kafka=settings.kafka.bootstrap_servers)
    async with contextlib.AsyncExitStack() as stack:
        # The HTTP service needs the store to remember accepted Outreach webhook deliveries, and
        # to forget people (POST /privacy/forget).
        wants_store = role is not None or (
            http
            and (
                bool(settings.outreach.webhook_secrets) or settings.privacy.admin_token is not None
            )
        )
        if store is None and wants_store:
            store = await open_state_store(settings)
            stack.push_async_callback(store.close)
        if presets is None and (
            (role is not None and Role.PROCESSOR in names_of(role))
            or (http and settings.inspector.token is not None and settings.pipeline.presets)
        ):
            presets = open_presets(settings)
        producer = await stack.enter_async_context(
            started_producer(settings, client_id=producer_id)
        )
        running = Host(settings, stop, supervisor)
        if role is not None:
            running.workers = await stack.enter_async_context(
                workers(
                    settings,
                    role,
                    stop,
                    store=store,
                    presets=presets,
                    producer=producer,
                    supervisor=supervisor,
                )
            )
        if http:
            if presets is not None and (running.workers is None or not running.workers.processor):
                watch_presets(stack, settings, presets, supervisor)
            running.http = await serve_http(
                stack,
                settings,
                producer=producer,
                store=store,
                presets=presets,
                workers_ready=running.workers.consuming if running.workers is not None else None,
                problems=running.problems,
                supervisor=supervisor,
            )
        yield running


async def run_process(
    settings: Settings,
    *,
    role: Role | None,
    http: bool,
    store: StateStore | None = None,
    presets: PresetsHolder | None = None,
    producer_id: str = "leadgate",
    on_ready: Callable[[Host], None] | None = None,
    stop: asyncio.Event | None = None,
    restart: bool = False,
) -> int:
    """What a command runs: the process until SIGTERM/SIGINT (or a worker crash); ``on_ready``
    is called once it is ready. Returns the exit code."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    async with host(
        settings,
        role=role,
        http=http,
        stop=stop,
        store=store,
        presets=presets,
        producer_id=producer_id,
        restart=restart,
    ) as running:
        await running.ready()
        if on_ready is not None:
            on_ready(running)
        return await running.wait()
