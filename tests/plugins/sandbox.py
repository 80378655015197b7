"""The Outreach sandbox fixtures: a real sandbox server on 127.0.0.1 per test, and a handle on its
admin endpoints (``prospects()``, ``accounts()``, ``requests()``, ``faults(**spec)``, ``reset()``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest_asyncio

from leadgate.sandbox import SandboxConfig, run_sandbox

MakeSandbox = Callable[..., Awaitable["SandboxHandle"]]


@dataclasses.dataclass(slots=True)
class SandboxHandle:
    """A running sandbox: its base ``url``, its ``config``, and its admin endpoints."""

    url: str
    config: SandboxConfig
    session: aiohttp.ClientSession

    async def _get(self, what: str) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}/__sandbox/{what}") as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        data: list[dict[str, Any]] = body["data"]
        return data

    async def _post(self, what: str, body: dict[str, Any]) -> Any:
        async with self.session.post(f"{self.url}/__sandbox/{what}", json=body) as response:
            if response.status >= 400:
                raise AssertionError(
                    f"sandbox admin {what}: {response.status} {await response.text()}"
                )
            return await response.json(content_type=None) if response.status != 204 else None

    async def prospects(self) -> list[dict[str, Any]]:
        """Every stored prospect (JSON:API resource objects, by id)."""
        return await self._get("prospects")

    async def accounts(self) -> list[dict[str, Any]]:
        """Every stored account."""
        return await self._get("accounts")

    async def users(self) -> list[dict[str, Any]]:
        """Every stored user (user 1 is the token's owner)."""
        return await self._get("users")

    async def records(self, plural: str) -> list[dict[str, Any]]:
        """Every stored resource of one type, e.g. ``records("opportunityProspectRoles")``."""
        return await self._get(plural)

    async def compliance_requests(self) -> list[dict[str, Any]]:
        """Every compliance request, states brought up to date with the sandbox clock."""
        return await self._get("complianceRequests")

    async def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward (what depends on time catches up at once)."""
        await self._post("clock", {"advance": seconds})

    async def listing(self, plural: str) -> list[dict[str, Any]]:
        """Every stored resource of a type (``mailboxes``, ``sequences``, ``sequenceStates``,
        ``stages``, ...), as ``/__sandbox/<plural>`` lists them."""
        return await self._get(plural)

    async def requests(self) -> list[dict[str, Any]]:
        """The request log: method, path, query, status, body, content_type, time."""
        return await self._get("requests")

    async def api_requests(self) -> list[dict[str, Any]]:
        """The request log without OAuth requests: what a client spent on the API."""
        return [r for r in await self.requests() if r["path"].startswith("/api/")]

    async def faults(self, **spec: Any) -> dict[str, Any]:
        """Add faults, e.g. ``faults(status=503, count=5)``, ``faults(storm_429={"count": 3,
        "retry_after": 1})``, ``faults(expire_tokens=True)``; returns the faults in force."""
        result: dict[str, Any] = await self._post("faults", spec)
        return result

    async def reset(self, *, oauth: bool = False) -> None:
        """Clear data, faults, log and budget (OAuth state too with ``oauth=True``)."""
        await self._post("reset", {"oauth": oauth})

    async def issue_refresh_token(self, *scopes: str, user: int = 1) -> str:
        """A new live refresh token carrying exactly ``scopes``, of user ``user``."""
        body = await self._post("refresh-tokens", {"scopes": list(scopes), "user": user})
        return str(body["refresh_token"])

    async def deliveries(self) -> list[dict[str, Any]]:
        """Webhook deliveries: webhook, event, resource_id, event_id, status, attempts, outcome."""
        return await self._get("deliveries")

    async def deliveries_settled(self, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The delivery log once no delivery is pending any more."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (await self.state())["webhook_deliveries_pending"]:
            if loop.time() > deadline:
                raise AssertionError("webhook deliveries still pending")
            await asyncio.sleep(0.02)
        return await self.deliveries()

    async def token_for(self, refresh_token: str) -> str:
        """Mint an access token with ``refresh_token`` (e.g. a rep's own)."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "refresh_token": refresh_token,
        }
        async with self.session.post(f"{self.url}/oauth/token", data=form) as response:
            if response.status != 200:
                raise AssertionError(f"mint: {response.status} {await response.text()}")
            body = await response.json()
        return str(body["access_token"])

    async def state(self) -> dict[str, Any]:
        """Counters: ``mints``, ``live_access_tokens``, ``budget_remaining``, ``faults``."""
        async with self.session.get(f"{self.url}/__sandbox/state") as response:
            result: dict[str, Any] = await response.json(content_type=None)
            return result

    def client_env(self) -> dict[str, str]:
        """The environment of a ``leadgate`` process talking to this sandbox as its dev client
        (this process's environment without ``LEADGATE_CONFIG``)."""
        env = {
            **os.environ,
            "LEADGATE_OUTREACH__BASE_URL": self.url,
            "LEADGATE_OUTREACH__CLIENT_ID": self.config.client_id,
            "LEADGATE_OUTREACH__CLIENT_SECRET": self.config.client_secret,
            "LEADGATE_OUTREACH__REFRESH_TOKEN": self.config.first_refresh_token,
        }
        env.pop("LEADGATE_CONFIG", None)
        return env

    async def access_token(self) -> str:
        """Mint an access token with the dev refresh token (as a client's first refresh does)."""
        return await self.token_for(self.config.first_refresh_token)


@pytest_asyncio.fixture
async def make_sandbox() -> AsyncIterator[MakeSandbox]:
    """Factory: ``await make_sandbox(**SandboxConfig overrides)`` starts a fresh sandbox on a free
    loopback port and returns its handle; every sandbox stops when the test ends."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(**overrides: Any) -> SandboxHandle:
            config = dataclasses.replace(SandboxConfig(), **overrides)
            url = await stack.enter_async_context(run_sandbox(config))
            return SandboxHandle(url, config, session)

        yield make


@pytest_asyncio.fixture
async def sandbox(make_sandbox: MakeSandbox) -> SandboxHandle:
    """A fresh sandbox with Outreach's documented defaults (7200 s tokens, one mint per 60 s,
    10,000 requests per hour, strict email uniqueness)."""
    return await make_sandbox()


@dataclasses.dataclass(slots=True)
class Receiver:
    """A loopback HTTP endpoint that records what is POSTed to it and answers ``status``."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = dataclasses.field(default_factory=list)
    status: int = 200

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        """Until at least ``count`` requests arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.received) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} deliveries arrived")
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on a free loopback port (``receiver.url``)."""
    from aiohttp import web

    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    holder: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        holder[0].received.append((dict(request.headers), await request.read()))
        return web.Response(status=holder[0].status)

    app.router.add_post("/{tail:.*}", handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(Receiver(f"http://127.0.0.1:{port}/hooks/outreach"))
    try:
        yield holder[0]
    finally:
        await runner.cleanup()


def request_epoch(entry: dict[str, Any]) -> float:
    """When the sandbox received a logged request (``/__sandbox/requests``), epoch seconds."""
    stamp = dt.datetime.strptime(entry["time"] + "+0000", "%Y-%m-%dT%H:%M:%S.%fZ%z")
    return stamp.timestamp()
