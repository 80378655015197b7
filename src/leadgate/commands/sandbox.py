"""``leadgate sandbox``: a local Outreach (OAuth, JSON:API, rate limits, fault injection) for
trying leadgate without an Outreach account. It prints its URL and the dev credentials, then serves
until Ctrl-C. Test-only admin endpoints live under ``/__sandbox/`` (prospects, accounts, requests,
faults, reset).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from leadgate.runtime.signals import stopping_on_signals
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.server import run_sandbox


def register(subparsers: Any) -> None:
    """Add ``leadgate sandbox`` to the CLI."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local Outreach sandbox (OAuth, prospects, accounts, rate limits, faults)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8300, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--rate-limit", type=int, default=10_000, help="requests per window (default 10000)"
    )
    parser.add_argument(
        "--window", type=float, default=3600.0, help="rate-limit window in seconds (default 3600)"
    )
    parser.add_argument(
        "--lenient", action="store_true", help="allow duplicate emails (purposeful duplicates)"
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every API request")
    parser.add_argument(
        "--token-ttl", type=float, default=7200.0, help="access token lifetime in seconds"
    )
    parser.add_argument(
        "--mint-interval",
        type=float,
        default=60.0,
        help="minimum seconds between two token mints of one client (default 60)",
    )
    parser.add_argument(
        "--excluded-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="refuse prospects at this email domain (repeatable)",
    )
    parser.set_defaults(handler=handle)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox configuration the flags describe."""
    if args.rate_limit < 1 or args.window <= 0 or args.token_ttl <= 0:
        raise SystemExit("leadgate sandbox: --rate-limit, --window and --token-ttl must be > 0")
    return SandboxConfig(
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        window_s=args.window,
        lenient=args.lenient,
        latency_ms=max(0, args.latency_ms),
        token_ttl_s=args.token_ttl,
        mint_interval_s=max(0.0, args.mint_interval),
        excluded_domains=tuple(args.excluded_domain),
    )


def banner(url: str, config: SandboxConfig) -> str:
    """What the command prints once it listens: the URL and how to point leadgate at it."""
    mode = "lenient (duplicate emails allowed)" if config.lenient else "strict"
    return "\n".join(
        [
            f"Outreach sandbox listening on {url}",
            f"  budget {config.rate_limit} requests / {config.window_s:g} s, "
            f"tokens live {config.token_ttl_s:g} s, emails {mode}",
            "  dev credentials (point leadgate at the sandbox with):",
            f"    LEADGATE_OUTREACH__BASE_URL={url}",
            f"    LEADGATE_OUTREACH__CLIENT_ID={config.client_id}",
            f"    LEADGATE_OUTREACH__CLIENT_SECRET={config.client_secret}",
            f"    LEADGATE_OUTREACH__REFRESH_TOKEN={config.first_refresh_token}",
            f"  admin: {url}/__sandbox/prospects  {url}/__sandbox/requests",
            "Press Ctrl-C to stop.",
        ]
    )


async def serve(config: SandboxConfig, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM when run from the command line)."""
    stop = stop or asyncio.Event()
    with stopping_on_signals(stop):
        async with run_sandbox(config) as url:
            print(banner(url, config), flush=True)
            await stop.wait()


def handle(args: argparse.Namespace) -> int:
    """Run the sandbox until interrupted; 0 on a clean stop."""
    asyncio.run(serve(config_from(args)))
    return 0
