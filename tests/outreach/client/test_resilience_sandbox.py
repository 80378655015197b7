"""Delivery through token expiry, rate-limit storms and outages, against the real sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from leadgate.errors import IntegrationStopped
from leadgate.outreach.deliver import deliver
from leadgate.store.memory import MemoryStore
from leadgate.store.sqlite import SqliteStore
from tests.outreach.client.helpers import dispatcher_for, make_lead
from tests.plugins.sandbox import MakeSandbox


async def _token_calls(sandbox: object) -> int:
    requests = await sandbox.requests()  # type: ignore[attr-defined]
    return sum(1 for r in requests if r["path"] == "/oauth/token")


async def test_token_expiry_mid_run_costs_one_refresh(make_sandbox: MakeSandbox) -> None:
    """When tokens expire mid-run, exactly one refresh happens and the rotated token is kept."""
    sandbox = await make_sandbox(mint_interval_s=0)
    store = MemoryStore()
    async with dispatcher_for(sandbox.url, store) as (client, dispatcher):
        await deliver(dispatcher, make_lead("a1@acme.example"), client.settings)
        first = await store.load_tokens()
        before = await _token_calls(sandbox)
        await sandbox.faults(expire_tokens=True)
        for i in range(2, 5):
            delivery = await deliver(dispatcher, make_lead(f"a{i}@acme.example"), client.settings)
            assert delivery.outcome == "delivered"
    assert await _token_calls(sandbox) - before == 1
    rotated = await store.load_tokens()
    assert first is not None
    assert rotated is not None
    assert rotated.refresh_token != first.refresh_token
    assert len(await sandbox.prospects()) == 4


async def test_64_concurrent_requests_on_an_expired_token_refresh_once(
    make_sandbox: MakeSandbox,
) -> None:
    """64 leads in flight when the token expires cause exactly one refresh and all arrive."""
    sandbox = await make_sandbox(mint_interval_s=0)
    # A large budget: this test is about the refresh, not about our own rate limiter.
    async with dispatcher_for(sandbox.url, MemoryStore(), budget_per_hour=1_000_000) as (
        client,
        dispatcher,
    ):
        await client.auth.access_token()
        await sandbox.faults(expire_tokens=True)
        before = await _token_calls(sandbox)
        leads = [make_lead(f"p{i}@gmail.com", account=None) for i in range(64)]
        deliveries = await asyncio.gather(
            *(deliver(dispatcher, lead, client.settings) for lead in leads)
        )
    assert [d.outcome for d in deliveries] == ["delivered"] * 64
    assert await _token_calls(sandbox) - before == 1
    assert len(await sandbox.prospects()) == 64


async def test_429_storm_delivers_everything_after_the_reset(make_sandbox: MakeSandbox) -> None:
    """A storm of 429s delays the leads until the reset; none is lost or duplicated."""
    sandbox = await make_sandbox()
    async with dispatcher_for(sandbox.url, MemoryStore()) as (client, dispatcher):
        await client.auth.access_token()
        await sandbox.faults(storm_429={"count": 12, "retry_after": 1})
        leads = [make_lead(f"s{i}@gmail.com", account=None) for i in range(10)]
        deliveries = await asyncio.gather(
            *(deliver(dispatcher, lead, client.settings) for lead in leads)
        )
    assert [d.outcome for d in deliveries] == ["delivered"] * 10
    prospects = await sandbox.prospects()
    assert sorted(p["attributes"]["emails"][0] for p in prospects) == sorted(
        lead.email for lead in leads
    )
    statuses = [r["status"] for r in await sandbox.api_requests()]
    assert 0 < statuses.count(429) <= 12


async def test_five_503s_then_delivered(sandbox: object) -> None:
    """Five 503s in a row are retried with backoff and the lead still arrives once."""
    async with dispatcher_for(sandbox.url, MemoryStore()) as (client, dispatcher):  # type: ignore[attr-defined]
        await sandbox.faults(status=503, count=5)  # type: ignore[attr-defined]
        lead = make_lead("ada@gmail.com", account=None)  # no account: one request at a time
        delivery = await deliver(dispatcher, lead, client.settings)
    assert delivery.outcome == "delivered"
    assert delivery.attempts == 6
    assert [e.status for e in delivery.exchanges].count(503) == 5
    assert len(await sandbox.prospects()) == 1  # type: ignore[attr-defined]


async def test_connection_reset_on_create_makes_no_duplicate(make_sandbox: MakeSandbox) -> None:
    """A create whose connection drops is resolved by the next attempt's lookup (V3)."""
    sandbox = await make_sandbox()
    async with dispatcher_for(sandbox.url, MemoryStore()) as (client, dispatcher):
        await sandbox.faults(reset_connections=1, method="POST", path_prefix="/api/v2/prospects")
        delivery = await deliver(dispatcher, make_lead("ada@gmail.com"), client.settings)
    assert delivery.outcome == "delivered"
    assert [e.method for e in delivery.exchanges] == ["GET", "POST", "GET", "POST"]
    assert delivery.exchanges[1].status is None
    assert len(await sandbox.prospects()) == 1


async def test_permanent_failures_are_dead_lettered_with_their_reason(
    make_sandbox: MakeSandbox,
) -> None:
    """deliver() ends an excluded address as a dead letter, after one attempt."""
    sandbox = await make_sandbox(excluded_domains=("blocked.example",))
    async with dispatcher_for(sandbox.url, MemoryStore()) as (client, dispatcher):
        delivery = await deliver(dispatcher, make_lead("x@blocked.example"), client.settings)
    assert (delivery.outcome, delivery.reason, delivery.attempts) == (
        "dead_lettered",
        "excluded_domain",
        1,
    )


async def test_outage_longer_than_the_window_dead_letters(make_sandbox: MakeSandbox) -> None:
    """When the outage outlasts the retry window, the lead is dead-lettered as exhausted."""
    sandbox = await make_sandbox()
    async with dispatcher_for(
        sandbox.url, MemoryStore(), retry_window_s=0.5, backoff_cap_s=0.2
    ) as (
        client,
        dispatcher,
    ):
        await sandbox.faults(status=503, duration_s=30)
        delivery = await deliver(dispatcher, make_lead(account=None), client.settings)
    assert (delivery.outcome, delivery.reason) == ("dead_lettered", "retry_window_exhausted")
    assert delivery.attempts > 1


async def test_missing_scope_stops_instead_of_dead_lettering(make_sandbox: MakeSandbox) -> None:
    """A token without prospects.write stops delivery with a fix to apply; nothing dead-letters."""
    sandbox = await make_sandbox()
    read_only = await sandbox.issue_refresh_token("prospects.read", "accounts.read")
    async with dispatcher_for(sandbox.url, MemoryStore(), refresh_token=read_only) as (
        client,
        dispatcher,
    ):
        with pytest.raises(IntegrationStopped) as stopped:
            await deliver(dispatcher, make_lead("ada@gmail.com"), client.settings)
    assert "leadgate auth login" in stopped.value.action
    assert await sandbox.prospects() == []


async def test_workers_sharing_a_store_reuse_each_others_rotation(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """Two worker processes sharing one state store: after one rotates the refresh token on
    expiry, the other uses the stored pair instead of its dead token (no invalid_grant stop)."""
    sandbox = await make_sandbox(mint_interval_s=0)
    store_a, store_b = SqliteStore(tmp_path / "state.db"), SqliteStore(tmp_path / "state.db")
    try:
        async with (
            dispatcher_for(sandbox.url, store_a) as (client_a, dispatcher_a),
            dispatcher_for(sandbox.url, store_b) as (client_b, dispatcher_b),
        ):
            await deliver(dispatcher_a, make_lead("w1@acme.example"), client_a.settings)
            await deliver(dispatcher_b, make_lead("w2@acme.example"), client_b.settings)
            await sandbox.faults(expire_tokens=True)
            before = await _token_calls(sandbox)
            await deliver(dispatcher_a, make_lead("w3@acme.example"), client_a.settings)
            delivery = await deliver(dispatcher_b, make_lead("w4@acme.example"), client_b.settings)
            assert delivery.outcome == "delivered"
            assert await _token_calls(sandbox) - before == 1
    finally:
        await store_a.close()
        await store_b.close()
    assert len(await sandbox.prospects()) == 4
