"""Fault injection through POST /__sandbox/faults: forced statuses, outages, 429 storms, latency,
dropped connections; and the admin endpoints themselves (reset, log, no auth, no budget)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import authed


async def test_forced_status_hits_the_next_n_matching_requests(sandbox: SandboxHandle) -> None:
    """status=503,count=2 on prospects fails exactly the next two prospect requests."""
    api = await authed(sandbox)
    await sandbox.faults(status=503, count=2, path_prefix="/api/v2/prospects")
    assert (await api.get("/api/v2/accounts")).status == 200
    statuses = [(await api.get("/api/v2/prospects")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    log = await sandbox.requests()
    assert [entry["status"] for entry in log[-3:]] == [503, 503, 200]


async def test_forced_status_can_target_one_method(sandbox: SandboxHandle) -> None:
    """A fault limited to POST leaves GETs alone and creates nothing while it lasts."""
    api = await authed(sandbox)
    await sandbox.faults(status=500, count=1, method="post")
    assert (await api.get("/api/v2/prospects")).status == 200
    failed = await api.create("prospects", {"emails": ["a@acme.com"]})
    assert (failed.status, failed.error_id) == (500, "internalServerError")
    assert await sandbox.prospects() == []
    assert (await api.create("prospects", {"emails": ["a@acme.com"]})).status == 201


async def test_outage_lasts_its_duration_with_retry_after(sandbox: SandboxHandle) -> None:
    """status=503 for duration_s fails everything with Retry-After, then the API recovers."""
    api = await authed(sandbox)
    await sandbox.faults(status=503, duration_s=0.4, retry_after=3)
    reply = await api.get("/api/v2/prospects")
    assert (reply.status, reply.headers["Retry-After"]) == (503, "3")
    assert (await api.get("/api/v2/prospects")).status == 503
    deadline = time.monotonic() + 10
    while (await api.get("/api/v2/prospects")).status == 503:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_429_storm_answers_rate_limited_with_retry_after(sandbox: SandboxHandle) -> None:
    """A storm of N gives N documented 429s with Retry-After and Remaining 0, then 200s."""
    api = await authed(sandbox)
    await sandbox.faults(storm_429={"count": 3, "retry_after": 2})
    replies = [await api.get("/api/v2/prospects") for _ in range(4)]
    assert [r.status for r in replies] == [429, 429, 429, 200]
    for reply in replies[:3]:
        assert reply.error_id == "rateLimitExceeded"
        assert reply.headers["Retry-After"] == "2"
        assert reply.headers["X-RateLimit-Remaining"] == "0"
        assert int(reply.headers["X-RateLimit-Reset"]) >= int(time.time()) + 1


async def test_latency_is_added_to_api_requests(make_sandbox: MakeSandbox) -> None:
    """latency_ms delays API answers (config and fault add up); admin calls stay fast."""
    sandbox = await make_sandbox(latency_ms=50)
    api = await authed(sandbox)
    await sandbox.faults(latency_ms=100)
    started = time.monotonic()
    assert (await api.get("/api/v2/prospects")).status == 200
    assert time.monotonic() - started >= 0.15


async def test_reset_connections_drops_without_an_answer(sandbox: SandboxHandle) -> None:
    """reset_connections: the connection closes with no response; aiohttp retries an idempotent
    GET once on its own, so two drops reach a GET caller while one reaches a POST caller."""
    api = await authed(sandbox)
    await sandbox.faults(reset_connections=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.create("prospects", {"emails": ["a@acme.com"]})
    await sandbox.faults(reset_connections=2, path_prefix="/api/v2/accounts")
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.get("/api/v2/accounts")
    assert (await api.create("prospects", {"emails": ["a@acme.com"]})).status == 201
    statuses = [
        (e["method"], e["status"]) for e in await sandbox.requests() if e["path"] != "/oauth/token"
    ]
    assert statuses == [("POST", None), ("GET", None), ("GET", None), ("POST", 201)]


async def test_lose_responses_carries_out_the_write_then_drops_the_answer(
    sandbox: SandboxHandle,
) -> None:
    """lose_responses: the POST creates the opportunity, but the client gets no answer (an
    ambiguous write); the next request is answered normally."""
    api = await authed(sandbox)
    await sandbox.faults(lose_responses=1, method="POST", path_prefix="/api/v2/opportunities")
    body = {"data": {"type": "opportunity", "attributes": {"name": "X", "closeDate": "2026-12-31"}}}
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("POST", "/api/v2/opportunities", body)
    assert len(await sandbox.records("opportunities")) == 1
    assert (await api.call("POST", "/api/v2/opportunities", body)).status == 201
    assert len(await sandbox.records("opportunities")) == 2


async def test_bad_fault_spec_is_refused(sandbox: SandboxHandle) -> None:
    """An unknown key or a non-error status is a 400, not a silently ignored fault."""
    with pytest.raises(AssertionError, match="400"):
        await sandbox.faults(stauts=503)
    with pytest.raises(AssertionError, match="400"):
        await sandbox.faults(status=200)


async def test_reset_clears_data_faults_and_log_but_keeps_tokens(sandbox: SandboxHandle) -> None:
    """reset empties prospects, faults and the request log; the access token still works."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["a@acme.com"]})
    await sandbox.faults(status=503, count=5)
    await sandbox.reset()
    assert await sandbox.prospects() == []
    assert await sandbox.requests() == []
    reply = await api.create("prospects", {"emails": ["a@acme.com"]})
    assert (reply.status, reply.json["data"]["id"]) == (201, 1)
    await sandbox.reset(oauth=True)
    assert (await api.get("/api/v2/prospects")).status == 401


async def test_admin_endpoints_need_no_token_and_spend_no_budget(
    make_sandbox: MakeSandbox,
) -> None:
    """Admin calls work without auth, are not logged, and leave the API budget untouched."""
    sandbox = await make_sandbox(rate_limit=2)
    for _ in range(5):
        await sandbox.prospects()
        await sandbox.requests()
    assert await sandbox.requests() == []
    api = await authed(sandbox)
    assert (await api.get("/api/v2/prospects")).headers["X-RateLimit-Remaining"] == "1"
    state = await sandbox.state()
    assert (state["mints"], state["live_access_tokens"]) == (1, 1)


async def test_faults_can_target_the_token_endpoint(sandbox: SandboxHandle) -> None:
    """A 503 aimed at /oauth/token fails a mint without consuming the refresh token."""
    await sandbox.faults(status=503, count=1, path_prefix="/oauth/token")
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": "sandbox-refresh-token",
    }
    async with sandbox.session.post(f"{sandbox.url}/oauth/token", data=form) as response:
        assert response.status == 503
    assert await sandbox.access_token()


async def test_request_log_is_bounded(make_sandbox: MakeSandbox) -> None:
    """The request log keeps only the newest max_logged_requests entries."""
    sandbox = await make_sandbox(max_logged_requests=3)
    api = await authed(sandbox)
    for n in range(5):
        await api.get(f"/api/v2/prospects/{n}")
    log = await sandbox.requests()
    assert [entry["path"] for entry in log] == [f"/api/v2/prospects/{n}" for n in (2, 3, 4)]


async def test_forced_statuses_look_like_outreachs_own(sandbox: SandboxHandle) -> None:
    """Forced 401, 422 and 429 answer with the documented shapes for those statuses."""
    api = await authed(sandbox)
    await sandbox.faults(status=401, count=1)
    unauthorised = await api.get("/api/v2/prospects")
    assert (unauthorised.status, unauthorised.text) == (401, "Invalid access token")
    await sandbox.faults(status=422, count=1)
    invalid = await api.get("/api/v2/prospects")
    assert (invalid.status, invalid.error_id) == (422, "validationError")
    await sandbox.faults(status=429, count=1, retry_after=2)
    limited = await api.get("/api/v2/prospects")
    assert (limited.status, limited.error_id) == (429, "rateLimitExceeded")
    assert limited.headers["Retry-After"] == "2"
