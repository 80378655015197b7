"""Serving the HTTP service (collector, SDK, demo page, inspector, metrics, health) with what it
reads wired in: the trace store fed from the traces topic, the live presets, the state store
for the dry run's profiles, and the workers' readiness for ``/readyz``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer

from leadgate.http.accesslog import AccessLogger
from leadgate.http.app import build_http_app
from leadgate.http.health import Problems, WorkersReady
from leadgate.http.privacy import Forget
from leadgate.kafka.traces import TraceConsumer
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.compliance import ComplianceRequests
from leadgate.runtime.services import open_trace_store
from leadgate.runtime.supervise import Supervisor
from leadgate.runtime.tasks import run_in_background
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.store.traces import TraceStore
from leadgate.workers.forget import Forgetter


@dataclass(frozen=True, slots=True)
class HttpService:
    """A serving HTTP service: its base URL and its application (tests look inside)."""

    url: str
    app: web.Application


async def serve_http(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    *,
    producer: AIOKafkaProducer,
    store: StateStore | None = None,
    presets: PresetsHolder | None = None,
    workers_ready: WorkersReady | None = None,
    problems: Problems | None = None,
    supervisor: Supervisor | None = None,
) -> HttpService:
    """Start serving on ``settings.http_host:http_port`` (0: any free port) until ``stack``
    closes: then no new requests, in-flight ones answered, the trace consumer stopped."""
    traces = open_trace_store(settings)
    stack.callback(traces.close)
    if settings.inspector.token is not None:  # a closed inspector needs no traces
        feed = TraceConsumer(settings, traces)
        run_in_background(stack, "traces.consume", feed.run, supervisor=supervisor)
    app = build_http_app(
        settings,
        producer=producer,
        profile_store=store,
        trace_store=traces,
        presets_holder=presets,
        workers_ready=workers_ready,
        problems=problems,
        forget=forget_service(settings, store, producer, traces) if store is not None else None,
    )
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=AccessLogger,
        shutdown_timeout=5.0,
        lingering_time=2.0,  # discard the rest of a refused upload for at most 2 s
    )
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    port = runner.addresses[0][1]
    return HttpService(f"http://{settings.http_host}:{port}", app)


def forget_service(
    settings: Settings, store: StateStore, producer: AIOKafkaProducer, traces: TraceStore
) -> Forget:
    """What ``POST /privacy/forget`` runs: a forget job over this process's state store, its
    producer (the inspectors' forget marker), its own trace store and, when asked, an Outreach
    client of its own; a compliance request is filed, not waited for (the endpoint answers 202
    until a repeated request finds it done)."""

    async def forget(targets: list[str], outreach: bool) -> dict[str, Any]:
        async with OutreachClient(settings.outreach, store) as client:
            forgetter = Forgetter(
                settings,
                store,
                producer=producer,
                compliance=ComplianceRequests(client) if outreach else None,
                trace_store=traces,
                follow_s=0.0,
            )
            return (await forgetter.forget(targets, outreach=outreach)).json()

    return forget


def watch_presets(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    presets: PresetsHolder,
    supervisor: Supervisor | None = None,
) -> None:
    """Reload edited preset files until ``stack`` closes (a processor watches its own)."""
    interval = settings.pipeline.presets_poll_s
    run_in_background(
        stack, "presets.watch", lambda stop: presets.watch(stop, interval), supervisor=supervisor
    )
