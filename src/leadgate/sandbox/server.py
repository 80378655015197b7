"""Running a sandbox on a socket: ``async with run_sandbox(config) as url: ...``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from leadgate.sandbox.app import build_sandbox_app
from leadgate.sandbox.config import SandboxConfig


@asynccontextmanager
async def run_sandbox(config: SandboxConfig | None = None) -> AsyncIterator[str]:
    """Serve a sandbox on ``config.host:config.port`` (port 0 picks a free one); yields its base
    URL, e.g. ``http://127.0.0.1:8300``. The access log is off: paths carry email filters."""
    config = config or SandboxConfig()
    runner = web.AppRunner(
        build_sandbox_app(config), access_log=None, handle_signals=False, shutdown_timeout=0.5
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        port = runner.addresses[0][1]

        host = {
            "0.0.0.0": "127.0.0.1",  # noqa: S104 -- printed as a loopback URL; nothing binds here
            "::": "::1",
            "": "127.0.0.1",
        }.get(config.host, config.host)
        host = f"[{host}]" if ":" in host else host
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
