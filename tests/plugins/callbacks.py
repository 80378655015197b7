"""A callback receiver on loopback: records every POST, checks its Standard Webhooks signature
with its own HMAC code (not leadgate's), and answers with the statuses a test queues."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest_asyncio
from aiohttp import web

SECRET = "whsec_" + base64.b64encode(b"receiver-test-key-0123456789abcd").decode()


@dataclasses.dataclass(slots=True)
class Received:
    """One POST as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclasses.dataclass(slots=True)
class CallbackReceiver:
    """The running receiver: its ``url``, what it ``received``, statuses still to answer."""

    url: str
    received: list[Received] = dataclasses.field(default_factory=list)
    answers: list[int] = dataclasses.field(default_factory=list)

    def verified(self) -> list[Received]:
        """The POSTs whose signature held and that were answered 2xx (delivered)."""
        return [r for r in self.received if r.signature_ok and 200 <= r.status < 300]


def check_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification written from the specification: HMAC-SHA256 with the
    base64-decoded ``whsec_`` key over ``id.timestamp.body``, compared with each ``v1,`` entry."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.partition(",") for part in headers["webhook-signature"].split(" ")]
    return any(
        version == "v1" and hmac.compare_digest(sig, expected) for version, _, sig in offered
    )


@pytest_asyncio.fixture
async def callback_receiver() -> AsyncIterator[CallbackReceiver]:
    """A receiver on a free loopback port; it answers 204 unless a test queued other statuses."""
    handle = CallbackReceiver(url="")

    async def accept(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status = handle.answers.pop(0) if handle.answers else 204
        signed = check_signature(SECRET, headers, body)
        handle.received.append(Received(headers, body, signed, status))
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/outcomes", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    handle.url = f"http://127.0.0.1:{runner.addresses[0][1]}/outcomes"
    try:
        yield handle
    finally:
        await runner.cleanup()
