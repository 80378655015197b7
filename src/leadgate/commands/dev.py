"""``leadgate dev``: the whole pipeline on one machine, nothing to install or configure.

An embedded Kafka-compatible broker with leadgate's topics, the Outreach sandbox (unless
``LEADGATE_OUTREACH__BASE_URL`` points at a real, non-loopback Outreach), the processor, the
delivery worker and the HTTP service (collector, SDK, demo page, inspector, metrics). It prints
every URL and credential a user needs. Ctrl-C stops everything and leaves no process behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from leadgate.errors import ConfigError
from leadgate.kafka.broker import EmbeddedBroker, for_embedded, topics_of
from leadgate.observability.logging import configure_logging
from leadgate.runtime.process import Host, run_process
from leadgate.runtime.roles import Role
from leadgate.runtime.services import open_presets, state_store
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.server import run_sandbox
from leadgate.settings import OutreachSettings, Settings, WriteKey, load_settings
from leadgate.store.base import StateStore, TokenSet


@dataclass(frozen=True, slots=True)
class DevOptions:
    """The flags of ``leadgate dev``."""

    http_port: int = 8400
    broker_port: int = 19092
    sandbox_port: int = 8300
    state_dir: Path | None = None
    write_key: str | None = None
    inspector_token: str | None = None
    partitions: int = 6
    allow_origins: tuple[str, ...] = ()


def browser_origin(text: str) -> str:
    """An ``--allow-origin`` value: ``scheme://host[:port]`` as a browser sends it (no path)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an origin like http://localhost:3000")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise argparse.ArgumentTypeError(f"{text!r}: an origin has no path, query or user")
    return f"{parts.scheme}://{parts.netloc}".lower()


def register(subparsers: Any) -> None:
    """Add ``leadgate dev`` to the CLI."""
    parser = subparsers.add_parser(
        "dev",
        help="run everything locally: broker, sandbox, collector, inspector and workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--http-port", type=int, default=8400, help="collector/inspector port")
    parser.add_argument("--broker-port", type=int, default=19092, help="embedded broker port")
    parser.add_argument("--sandbox-port", type=int, default=8300, help="Outreach sandbox port")
    parser.add_argument("--state-dir", type=Path, default=None, help="state store directory")
    parser.add_argument("--write-key", default=None, help="collector write key (default: random)")
    parser.add_argument("--inspector-token", default=None, help="inspector token (default: random)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument(
        "--allow-origin",
        dest="allow_origins",
        action="append",
        type=browser_origin,
        default=[],
        metavar="ORIGIN",
        help="a website origin (e.g. http://localhost:3000) whose pages may send events with the "
        "dev write key; repeat for more (the collector's own pages are always allowed)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run until Ctrl-C."""
    options = DevOptions(
        http_port=args.http_port,
        broker_port=args.broker_port,
        sandbox_port=args.sandbox_port,
        state_dir=args.state_dir,
        write_key=args.write_key,
        inspector_token=args.inspector_token,
        partitions=args.partitions,
        allow_origins=tuple(args.allow_origins),
    )
    try:
        return asyncio.run(run_dev(options))
    except ConfigError as exc:
        print(f"leadgate dev: {exc.message}", file=sys.stderr)
        return 2


def uses_real_outreach(base_url: str) -> bool:
    """True when Outreach is configured at a non-loopback address (then no sandbox runs)."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return False
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return True


def dev_settings(
    base: Settings, options: DevOptions, *, bootstrap: str, write_key: str, inspector_token: str
) -> Settings:
    """The settings of a dev run: the embedded broker, the generated credentials."""
    update: dict[str, Any] = {
        "http_port": options.http_port,
        "kafka": for_embedded(base.kafka).model_copy(
            update={
                "bootstrap_servers": bootstrap,
                "partitions": options.partitions,
                "enable_idempotence": False,  # Tansu rejects InitProducerId
            }
        ),
        "collector": base.collector.model_copy(
            update={
                "write_keys": (
                    *base.collector.write_keys,
                    WriteKey(key=SecretStr(write_key), name="dev", origins=options.allow_origins),
                ),
                # The demo page is served with the dev key in it: it is a public browser key.
                "demo_write_key": "dev",
            }
        ),
        "inspector": base.inspector.model_copy(update={"token": SecretStr(inspector_token)}),
    }
    if options.state_dir is not None:
        update["state_dir"] = options.state_dir
    return base.model_copy(update=update)


# With the sandbox, a reconciliation pass every minute: a lost webhook shows up soon.
DEV_RECONCILE_INTERVAL_S = 60.0


def _sandbox_outreach(settings: Settings, sandbox_url: str) -> OutreachSettings:
    """Outreach settings for the sandbox: its URL, and a webhook of our own (registered by the
    first reconciliation pass) so that edits made in the sandbox flow back with no setup."""
    outreach = settings.outreach
    update: dict[str, Any] = {"base_url": sandbox_url}
    if not outreach.webhook_url:
        wildcard = ("0.0.0.0", "::")  # noqa: S104 -- recognising a wildcard bind, not binding
        host = settings.http_host if settings.http_host not in wildcard else "127.0.0.1"
        update["webhook_url"] = f"http://{host}:{settings.http_port}/outreach/webhooks"
    if not outreach.webhook_secrets:
        update["webhook_secrets"] = (SecretStr(f"whsec_{secrets.token_urlsafe(24)}"),)
    if "reconcile_interval_s" not in outreach.model_fields_set:
        update["reconcile_interval_s"] = DEV_RECONCILE_INTERVAL_S
    return outreach.model_copy(update=update)


@contextlib.asynccontextmanager
async def _sandbox(settings: Settings, port: int) -> AsyncIterator[str | None]:
    """The sandbox's base URL, or None when a real Outreach is configured."""
    if uses_real_outreach(settings.outreach.base_url):
        yield None
        return
    refresh = settings.outreach.refresh_token
    config = SandboxConfig(
        port=port,
        client_id=settings.outreach.client_id,
        client_secret=settings.outreach.client_secret.get_secret_value(),
        first_refresh_token=refresh.get_secret_value() if refresh else "sandbox-refresh-token",
    )
    async with run_sandbox(config) as url:
        yield url


async def _seed_sandbox_tokens(settings: Settings, store: StateStore) -> None:
    """A fresh sandbox knows only its first refresh token: forget tokens a previous run rotated."""
    refresh = settings.outreach.refresh_token
    await store.save_tokens(
        TokenSet(
            access_token="",
            refresh_token=refresh.get_secret_value() if refresh else "sandbox-refresh-token",
            expires_at=0.0,
        )
    )


async def run_dev(options: DevOptions) -> int:
    """Start the broker and the sandbox, then the process (workers and HTTP service); print the
    banner once it is ready; run until Ctrl-C."""
    base = load_settings()
    write_key = options.write_key or f"wk_{secrets.token_urlsafe(18)}"
    token = options.inspector_token or secrets.token_urlsafe(24)
    broker = EmbeddedBroker(port=options.broker_port)
    try:
        await broker.start()
        settings = dev_settings(
            base, options, bootstrap=broker.bootstrap, write_key=write_key, inspector_token=token
        )
        configure_logging(settings, fmt="console")
        await broker.create_topics(settings.kafka)
        presets = open_presets(settings)  # a bad preset fails before start
        async with contextlib.AsyncExitStack() as stack:
            store = await stack.enter_async_context(state_store(settings))
            sandbox_url = await stack.enter_async_context(_sandbox(settings, options.sandbox_port))
            if sandbox_url is not None:
                settings = settings.model_copy(
                    update={"outreach": _sandbox_outreach(settings, sandbox_url)}
                )
                await _seed_sandbox_tokens(settings, store)

            def banner(running: Host) -> None:
                assert running.http is not None
                _print_banner(settings, broker, sandbox_url, running.http.url, write_key, token)

            # a worker that dies is said so, /readyz turns 503, and it is restarted (backoff)
            return await run_process(
                settings,
                role=Role.ALL,
                http=True,
                store=store,
                presets=presets,
                on_ready=banner,
                restart=True,
            )
    finally:
        broker.stop()


def _origins(settings: Settings) -> str:
    dev = next(key for key in settings.collector.write_keys if key.name == "dev")
    allowed = ", ".join(dev.origins) if dev.origins else "only the collector's own pages"
    return f"{allowed}   (add a website with --allow-origin ORIGIN)"


def _print_banner(
    settings: Settings,
    broker: EmbeddedBroker,
    sandbox_url: str | None,
    http_url: str,
    write_key: str,
    token: str,
) -> None:
    lines = ["", "leadgate dev is running. Ctrl-C stops everything.", ""]
    lines += [
        f"  collector      {http_url}/v1/track   (also /v1/identify, /v1/page, /v1/batch)",
        f"  write key      {write_key}   (HTTP Basic username, Segment style)",
        f"  demo page      {http_url}/demo",
        f"  SDK            {http_url}/sdk/leadgate.js",
        f"  analytics.js   cdnURL: '{http_url}'   (Segment's library, unchanged)",
        f"  RudderStack    configUrl and dataPlaneUrl: '{http_url}'",
        f"  origins        {_origins(settings)}",
        f"  inspector      {http_url}/inspector   token: {token}",
        f"  metrics        {http_url}/metrics   health: {http_url}/healthz",
    ]
    if sandbox_url is not None:
        lines += [
            f"  Outreach       {sandbox_url}   (sandbox; client id {settings.outreach.client_id})",
            f"  sandbox admin  {sandbox_url}/__sandbox/prospects",
            f"                 {sandbox_url}/__sandbox/requests",
            f"                 {sandbox_url}/__sandbox/deliveries   (webhook deliveries)",
            f"  webhooks in    {http_url}/outreach/webhooks   (registered with the sandbox)",
            f"  mirror         {http_url}/inspector/api/outreach/prospects/<id>",
        ]
    else:
        lines.append(f"  Outreach       {settings.outreach.base_url}   (real; from your settings)")
    lines += [
        f"  Kafka          {broker.bootstrap}   topics: {', '.join(topics_of(settings.kafka))}",
        f"  state dir      {settings.state_dir.resolve()}",
        "",
    ]
    print("\n".join(lines), flush=True)
