"""``leadgate serve``: the production HTTP service on one port: the collector (Segment Tracking
API), the tag SDK, the demo page (when configured), the inspector, Outreach's webhooks
(``POST /outreach/webhooks``, signed with LEADGATE_OUTREACH__WEBHOOK_SECRETS), /metrics, /healthz,
/readyz.

It produces to the Kafka named by LEADGATE_KAFKA__BOOTSTRAP_SERVERS and needs at least one write
key (LEADGATE_COLLECTOR__WRITE_KEYS, e.g. '[{"key": "...", "name": "web", "origins":
["https://www.example.com"]}]'). SIGINT/SIGTERM stop it cleanly: no new requests, in-flight
requests answered, the producer flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError

from leadgate.http.accesslog import AccessLogger
from leadgate.http.app import build_http_app
from leadgate.kafka.producer import make_producer
from leadgate.observability.logging import configure_logging, get_logger
from leadgate.settings import Settings, load_settings
from leadgate.store.sqlite import open_store

log = get_logger("leadgate.serve")


def register(subparsers: Any) -> None:
    """Add ``leadgate serve`` to the CLI."""
    parser = subparsers.add_parser(
        "serve",
        help="production HTTP service: collector, SDK, demo, inspector, metrics, health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="interface to listen on (default: settings.http_host)")
    parser.add_argument(
        "--port", type=int, help="port (default: settings.http_port; 0 = any free port)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the HTTP service until SIGINT/SIGTERM."""
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["http_host"] = args.host
    if args.port is not None:
        overrides["http_port"] = args.port
    settings = load_settings(**overrides)
    configure_logging(settings)
    if not settings.collector.write_keys:
        print(
            "leadgate serve: no write keys configured; set LEADGATE_COLLECTOR__WRITE_KEYS "
            "(every event would be refused with 401)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Serve until ``stop`` is set (or a signal arrives); returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    producer = make_producer(settings.kafka, client_id="leadgate-collector")
    try:
        await producer.start()
    except KafkaError as exc:
        print(
            f"leadgate serve: cannot reach Kafka at {settings.kafka.bootstrap_servers} "
            f"({type(exc).__name__}); check LEADGATE_KAFKA__BOOTSTRAP_SERVERS",
            file=sys.stderr,
        )
        await producer.stop()
        return 1
    # The state store remembers accepted webhook deliveries (24 h dedupe).
    store = await open_store(settings.state_dir)
    try:
        app = build_http_app(settings, producer=producer, state_store=store)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log_class=AccessLogger,
            shutdown_timeout=5.0,
            lingering_time=2.0,  # discard the rest of a refused upload for at most 2 s
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.http_host, settings.http_port)
            await site.start()
            port = runner.addresses[0][1]
            url = f"http://{settings.http_host}:{port}"
            log.info("serving", url=url, kafka=settings.kafka.bootstrap_servers)
            print(f"leadgate serve: listening on {url}", file=sys.stderr, flush=True)
            await stop.wait()
            print("leadgate serve: stopping", file=sys.stderr, flush=True)
        finally:
            await runner.cleanup()
    finally:
        await store.close()
        await producer.stop()
    return 0
