"""The HTTP application of ``leadgate serve`` and ``leadgate dev``: collector, SDK, demo page,
inspector, metrics and health probes on one port.

The caller (:mod:`leadgate.runtime.http`) owns everything the app uses: the producer (started
before, stopped after the app), the stores and presets the inspector reads, and the readiness
of the workers running beside it. The app opens nothing itself.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from leadgate.http.collector import Collector
from leadgate.http.health import Problems, WorkersReady, health_routes
from leadgate.http.inspector import setup_inspector
from leadgate.http.metrics import setup_metrics
from leadgate.http.pages import page_routes
from leadgate.http.privacy import Forget, PrivacyEndpoint
from leadgate.http.sdkconfig import SdkConfig
from leadgate.http.sink import EventSink
from leadgate.http.webhooks import WebhookReceiver
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.store.traces import TraceStore

COLLECTOR_KEY = web.AppKey("collector", Collector)


def build_http_app(
    settings: Settings,
    *,
    producer: Any,
    profile_store: StateStore | None = None,
    trace_store: TraceStore | None = None,
    presets_holder: PresetsHolder | None = None,
    workers_ready: WorkersReady | None = None,
    problems: Problems | None = None,
    state_store: StateStore | None = None,
    forget: Forget | None = None,
) -> web.Application:
    """The aiohttp application; ``producer`` is a started aiokafka producer (acks="all").

    ``state_store`` (else ``profile_store``) remembers accepted Outreach webhook deliveries; with
    neither, ``POST /outreach/webhooks`` is not served.
    """
    collector_settings = settings.collector
    # aiohttp's own cap for request.read()/post(); the collector streams with its own caps.
    app = web.Application(client_max_size=collector_settings.max_batch_bytes)
    sink = EventSink(
        producer,
        settings.kafka.events_topic,
        timeout_s=collector_settings.produce_timeout_s,
        max_pending=collector_settings.max_pending_produces,
    )
    collector = Collector(collector_settings, sink)
    app[COLLECTOR_KEY] = collector
    app.add_routes(collector.routes())
    app.add_routes(page_routes(collector_settings))
    app.add_routes(SdkConfig(collector_settings).routes())
    app.add_routes(health_routes(sink, workers_ready, problems))
    if forget is not None:  # POST /privacy/forget (401 unless privacy.admin_token is set)
        app.add_routes(PrivacyEndpoint(settings, forget).routes())
    webhook_store = state_store if state_store is not None else profile_store
    if webhook_store is not None:
        receiver = WebhookReceiver(settings, producer=producer, store=webhook_store)
        app.add_routes(receiver.routes())
    inspector = setup_inspector(
        app,
        settings,
        trace_store=trace_store,
        presets_holder=presets_holder,
        profile_store=profile_store,
    )
    if problems is not None:
        inspector.problems = problems
    setup_metrics(app)
    return app
