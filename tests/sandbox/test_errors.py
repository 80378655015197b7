"""The sandbox's error answers, byte-for-byte as docs/outreach-api.md#errors has them: 415, 401,
404 (resource and route), and the rate-limit headers and 429 of the per-user budget."""

from __future__ import annotations

import asyncio
import re
import time

from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, authed


async def test_wrong_content_type_is_415_with_details(sandbox: SandboxHandle) -> None:
    """A text/plain body gets 415 unsupportedMediaType with the documented 'details' text."""
    api = await authed(sandbox)
    body = {"data": {"type": "prospect", "attributes": {"emails": ["a@acme.com"]}}}
    reply = await api.call("POST", "/api/v2/prospects", body, content_type="text/plain")
    assert reply.status == 415
    assert reply.json == {
        "errors": [
            {
                "id": "unsupportedMediaType",
                "title": "Unsupported Media Type",
                "details": "Expected Content-Type header to be 'application/vnd.api+json'.",
            }
        ]
    }
    assert await sandbox.prospects() == []


async def test_json_and_missing_content_type_where_allowed(sandbox: SandboxHandle) -> None:
    """application/json bodies pass; a GET needs no Content-Type; a POST without one is 415."""
    api = await authed(sandbox)
    body = {"data": {"type": "prospect", "attributes": {"emails": ["a@acme.com"]}}}
    json_reply = await api.call(
        "POST", "/api/v2/prospects", body, content_type="application/json; charset=utf-8"
    )
    assert json_reply.status == 201
    assert (await api.get("/api/v2/prospects")).status == 200
    bare = await api.call("POST", "/api/v2/prospects", body, content_type=None)
    assert bare.status == 415


async def test_strict_content_type_refuses_plain_json(make_sandbox: MakeSandbox) -> None:
    """In strict media-type mode only application/vnd.api+json is accepted."""
    sandbox = await make_sandbox(strict_content_type=True)
    api = await authed(sandbox)
    body = {"data": {"type": "prospect", "attributes": {"emails": ["a@acme.com"]}}}
    reply = await api.call("POST", "/api/v2/prospects", body, content_type="application/json")
    assert reply.status == 415


async def test_missing_or_unknown_token_is_plain_401(sandbox: SandboxHandle) -> None:
    """No token or an unknown one gets the 20-byte plain-text 401 body."""
    for token in (None, "made-up"):
        reply = await Api(sandbox, token).get("/api/v2/prospects")
        assert (reply.status, reply.text) == (401, "Invalid access token")
        assert reply.headers["Content-Type"].startswith("text/plain")


async def test_unknown_id_is_resource_not_found(sandbox: SandboxHandle) -> None:
    """GET and PATCH of an unknown id answer 404 resourceNotFound naming type and id."""
    api = await authed(sandbox)
    reply = await api.get("/api/v2/prospects/1")
    assert reply.status == 404
    assert reply.json == {
        "errors": [
            {
                "id": "resourceNotFound",
                "title": "Resource Not Found",
                "detail": "Could not find 'prospect' with ID '1'.",
            }
        ]
    }
    patched = await api.patch("prospects", 7, {"title": "x"})
    assert (patched.status, patched.detail) == (404, "Could not find 'prospect' with ID '7'.")


async def test_unknown_route_is_route_not_found(sandbox: SandboxHandle) -> None:
    """Paths that are no endpoint answer 404 routeNotFound."""
    api = await authed(sandbox)
    for path in ("/api/v2/widgets", "/api/v2/prospects/1/nothing", "/nowhere"):
        reply = await api.get(path)
        assert (reply.status, reply.error_id) == (404, "routeNotFound"), path


async def test_rate_limit_headers_on_every_response(sandbox: SandboxHandle) -> None:
    """Every answer carries X-RateLimit-*; Remaining counts down; Reset is epoch seconds."""
    api = await authed(sandbox)
    first = await api.get("/api/v2/prospects")
    second = await api.get("/api/v2/prospects/42")
    assert first.headers["X-RateLimit-Limit"] == "10000"
    assert int(first.headers["X-RateLimit-Remaining"]) == 9999
    assert int(second.headers["X-RateLimit-Remaining"]) == 9998
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() + 3500 < reset <= time.time() + 3601
    unauthorised = await Api(sandbox, None).get("/api/v2/prospects")
    assert "X-RateLimit-Remaining" in unauthorised.headers


async def test_budget_exhaustion_gives_429_until_the_window_reopens(
    make_sandbox: MakeSandbox,
) -> None:
    """Past the budget: 429 rateLimitExceeded with Retry-After; after the window, 200 again."""
    sandbox = await make_sandbox(rate_limit=3, window_s=1.0)
    api = await authed(sandbox)
    replies = [await api.get("/api/v2/prospects") for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 200, 429]
    limited = replies[-1]
    assert limited.error_id == "rateLimitExceeded"
    assert limited.detail.startswith("You have exceeded your permitted rate limit of 3; please")
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "1"
    deadline = time.monotonic() + 10
    while (reply := await api.get("/api/v2/prospects")).status == 429:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert reply.status == 200


async def test_documented_429_detail_formats_the_limit(sandbox: SandboxHandle) -> None:
    """A 429 of the default budget quotes '10,000' and a reset time without zone, as documented."""
    api = await authed(sandbox)
    await sandbox.faults(storm_429={"count": 1, "retry_after": 5})
    reply = await api.get("/api/v2/prospects")
    assert reply.status == 429
    assert re.fullmatch(
        r"You have exceeded your permitted rate limit of 10,000; please try again at "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.",
        reply.detail,
    )
