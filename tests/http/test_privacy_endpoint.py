"""POST /privacy/forget on a real server on loopback: its own admin token (never a write key or
the inspector token), bodies that name nobody are refused, a forget erases and suppresses, and
with ``outreach`` it answers 202 until a repeated request finds the compliance request done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from leadgate.domain.profile import Profile
from leadgate.http.privacy import PATH, PrivacyEndpoint
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.compliance import ComplianceRequests
from leadgate.settings import Settings
from leadgate.store.base import ProspectRecord
from leadgate.store.memory import MemoryStore
from leadgate.workers.forget import Forgetter
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import authed_with

ADMIN = "privacy-admin-token-1"
INSPECTOR = "inspector-token-123"
WRITE_KEY = "write-key-abcdef"
Call = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]


def _settings(tmp_path: Path, url: str, *, admin: str | None = ADMIN) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        outreach=make_settings(url),
        collector={"write_keys": [{"key": WRITE_KEY}]},
        inspector={"token": INSPECTOR},
        privacy={"admin_token": admin},
    )


@asynccontextmanager
async def _served(settings: Settings, store: MemoryStore) -> AsyncIterator[Call]:
    """The endpoint on a free loopback port, forgetting with a real job over ``store``."""

    async def forget(targets: list[str], outreach: bool) -> dict[str, Any]:
        async with OutreachClient(settings.outreach, store) as client:
            job = Forgetter(
                settings,
                store,
                compliance=ComplianceRequests(client) if outreach else None,
                follow_s=0.0,
            )
            return (await job.forget(targets, outreach=outreach)).json()

    app = web.Application()
    app.add_routes(PrivacyEndpoint(settings, forget).routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{PATH}"
    async with aiohttp.ClientSession() as session:

        async def call(body: Any, token: str | None = ADMIN) -> tuple[int, dict[str, Any]]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.post(url, json=body, headers=headers) as response:
                return response.status, await response.json()

        try:
            yield call
        finally:
            await runner.cleanup()


async def test_only_the_admin_token_opens_it(tmp_path: Path) -> None:
    """No token, the write key or the inspector token get 401; nothing is suppressed."""
    store = MemoryStore()
    async with _served(_settings(tmp_path, "http://127.0.0.1:9"), store) as call:
        for token in (None, WRITE_KEY, INSPECTOR, ADMIN + "x"):
            status, body = await call({"email": "jane@acme.com"}, token=token)
            assert status == 401, token
            assert body["error"] == "unauthorized", token
    assert await store.scan_docs("suppression") == []


async def test_without_an_admin_token_it_stays_closed(tmp_path: Path) -> None:
    """With no privacy.admin_token configured every request is a 401 saying it is closed."""
    async with _served(
        _settings(tmp_path, "http://127.0.0.1:9", admin=None), MemoryStore()
    ) as call:
        status, body = await call({"email": "jane@acme.com"}, token="anything-at-all")
    assert status == 401
    assert "closed" in body["detail"]


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not an address"}, {"userId": 5}, {"email": "a@b.co", "why": 1}, [1], "x"],
)
async def test_a_body_that_names_nobody_is_a_400(tmp_path: Path, body: Any) -> None:
    """Bodies naming no usable identifier are refused with a reason that repeats no value."""
    async with _served(_settings(tmp_path, "http://127.0.0.1:9"), MemoryStore()) as call:
        status, answer = await call(body)
    assert status == 400
    assert answer["error"] == "bad_request"
    assert "not an address" not in answer["detail"]


async def test_forget_erases_and_suppresses_and_answers_with_hashes(tmp_path: Path) -> None:
    """A forget by userId erases the profile and prospect record, suppresses the id and the
    email found in the profile, and answers 200 with hashes only."""
    store = MemoryStore()
    await store.put_profile(["user:u-1"], Profile(traits={"email": "jane@acme.com"}))
    await store.put_prospect("jane@acme.com", ProspectRecord(4, frozenset(), "h"))
    async with _served(_settings(tmp_path, "http://127.0.0.1:9"), store) as call:
        status, body = await call({"userId": "u-1"})
    assert status == 200
    assert body["finished"] is True
    assert body["erased"]["profiles"] == 1
    assert body["erased"]["prospect_records"] == 1
    assert len(body["hashes"]) == 2
    assert "jane" not in str(body)
    assert "u-1" not in str(body)
    assert await store.get_profiles(["user:u-1"]) == {}
    assert len(await store.scan_docs("suppression")) == 2


async def test_with_outreach_it_answers_202_until_the_request_is_done(
    tmp_path: Path, make_sandbox: MakeSandbox
) -> None:
    """With outreach, the first answer is 202 with the filed request; repeating the same request
    after Outreach finished it answers 200, and only one request was filed."""
    sandbox: SandboxHandle = await make_sandbox(mint_interval_s=0.0)
    api = await authed_with(sandbox, "prospects.all")
    created = await api.create("prospects", {"emails": ["jane@acme.com"]})
    store = MemoryStore()
    await store.put_prospect(
        "jane@acme.com", ProspectRecord(created.json["data"]["id"], frozenset(), "h")
    )
    async with _served(_settings(tmp_path, sandbox.url), store) as call:
        status, body = await call({"email": "jane@acme.com", "outreach": True})
        assert status == 202
        assert body["finished"] is False
        assert body["complianceRequest"]["state"] == "pending"
        await sandbox.advance_clock(2 * sandbox.config.compliance_step_s)
        status, body = await call({"email": "jane@acme.com", "outreach": True})
    assert status == 200
    assert body["complianceRequest"]["state"] == "done"
    assert len(await sandbox.compliance_requests()) == 1
    assert await sandbox.prospects() == []


@pytest.mark.parametrize(
    ("admin", "wrong"),
    [
        (WRITE_KEY, "differ from every write key"),
        (INSPECTOR, "differ from the inspector token"),
        ("short", "at least 12 characters"),
    ],
)
def test_the_admin_token_must_be_its_own(tmp_path: Path, admin: str, wrong: str) -> None:
    """Settings refuse an admin token equal to a write key or the inspector token, or too short,
    without echoing it."""
    with pytest.raises(ValueError, match="admin_token") as refused:
        _settings(tmp_path, "http://127.0.0.1:9", admin=admin)
    assert wrong in str(refused.value)
    assert f"'{admin}'" not in str(refused.value)
