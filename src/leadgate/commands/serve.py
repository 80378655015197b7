"""``leadgate serve``: the production HTTP service on one port: the collector (Segment Tracking
API), the tag SDK, the demo page (when configured), the inspector, /metrics, /healthz, /readyz.

It produces to the Kafka named by LEADGATE_KAFKA__BOOTSTRAP_SERVERS and needs at least one write
key (LEADGATE_COLLECTOR__WRITE_KEYS, e.g. '[{"key": "...", "name": "web", "origins":
["https://www.example.com"]}]'). SIGINT/SIGTERM stop it cleanly: no new requests, in-flight
requests answered, the producer flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from aiokafka.errors import KafkaError

from leadgate.observability.logging import configure_logging, get_logger
from leadgate.runtime.process import Host, run_process
from leadgate.settings import Settings, load_settings

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
    try:
        code = await run_process(
            settings,
            role=None,
            http=True,
            producer_id="leadgate-collector",
            on_ready=_announce,
            stop=stop,
            restart=True,  # the trace feed and preset watcher come back after a failure
        )
    except KafkaError as exc:
        print(
            f"leadgate serve: cannot reach Kafka at {settings.kafka.bootstrap_servers} "
            f"({type(exc).__name__}); check LEADGATE_KAFKA__BOOTSTRAP_SERVERS",
            file=sys.stderr,
        )
        return 1
    print("leadgate serve: stopped", file=sys.stderr, flush=True)
    return code


def _announce(running: Host) -> None:
    assert running.http is not None
    url = running.http.url
    log.info("serving", url=url, kafka=running.settings.kafka.bootstrap_servers)
    print(f"leadgate serve: listening on {url}", file=sys.stderr, flush=True)
