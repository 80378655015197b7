"""Two-way sync end to end, as ``leadgate dev`` runs it (issue 11's "Done when"): the real
broker, the sandbox firing signed webhooks at the real endpoint, the inbound worker keeping the
mirror, the reconciliation poll recovering what webhooks lost, and writes that keep a rep's
edits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest_asyncio
from pydantic import SecretStr

from leadgate.kafka.broker import ensure_topics, free_port, topics_of
from leadgate.runtime.process import Host, host
from leadgate.runtime.roles import Role
from leadgate.settings import Settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.plugins.streams import identify, produce, produce_events, read_topic, track, wait_for
from tests.sandbox.api import Api

SECRET = "whsec-e2e-0123456789abcdef"
TOKEN = "e2e-inspector-token-42"
EMAIL = "jane.doe@acme.com"


@dataclass
class Sync:
    """A running leadgate (all workers + HTTP) wired to a sandbox, with handles to poke both."""

    settings: Settings
    sandbox: SandboxHandle
    running: Host
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        assert self.running.http is not None
        return self.running.http.url

    async def mirror(self, prospect_id: int) -> dict[str, Any] | None:
        """GET /inspector/api/outreach/prospects/{id} (None while it answers 404)."""
        async with self.http.get(
            f"{self.url}/inspector/api/outreach/prospects/{prospect_id}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            if response.status == 404:
                return None
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body

    async def send(self, *events: dict[str, Any]) -> None:
        await produce_events(
            self.settings.kafka.bootstrap_servers, self.settings.kafka.events_topic, events
        )

    async def prospect(self) -> dict[str, Any]:
        [found] = await self.sandbox.prospects()
        return found

    async def rep(self) -> Api:
        """A sales rep (user 2) with a token of their own."""
        owner = Api(self.sandbox, await self.sandbox.token_for(
            await self.sandbox.issue_refresh_token("users.all")
        ))  # fmt: skip
        rep = await owner.create("users", {"email": "rita@acme.com", "firstName": "Rita"})
        rep_id = rep.json["data"]["id"]
        refresh = await self.sandbox.issue_refresh_token("prospects.all", user=rep_id)
        return Api(self.sandbox, await self.sandbox.token_for(refresh))


@pytest_asyncio.fixture
async def sync(
    make_settings: Callable[..., Settings], make_sandbox: MakeSandbox
) -> AsyncIterator[Sync]:
    """leadgate (role all + HTTP) on a sandbox that delivers webhooks to it."""
    sandbox = await make_sandbox(mint_interval_s=0.0, webhook_retry_delay_s=0.05)
    port = free_port()
    settings = make_settings(
        sandbox_url=sandbox.url,
        webhook_url=f"http://127.0.0.1:{port}/outreach/webhooks",
        webhook_secrets=[SECRET],
        reconcile_interval_s=3600,
    )
    settings = settings.model_copy(
        update={
            "http_port": port,
            "inspector": settings.inspector.model_copy(update={"token": SecretStr(TOKEN)}),
        }
    )
    kafka = settings.kafka
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    async with AsyncExitStack() as stack:
        running = await stack.enter_async_context(host(settings, role=Role.ALL, http=True))
        await running.ready()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        handle = Sync(settings, sandbox, running, http)

        async def registered() -> bool:
            hooks = await sandbox._get("webhooks")
            return any(h["attributes"]["url"] == settings.outreach.webhook_url for h in hooks)

        await wait_for(registered, timeout_s=20, interval_s=0.05)
        yield handle
        running.stop.set()


async def _reconcile(sync: Sync) -> None:
    """Run the next reconciliation pass now (as the interval would) and wait for it."""
    inbound = sync.running.workers.inbound if sync.running.workers else None
    assert inbound is not None
    assert inbound.reconciler is not None
    before = inbound.reconciler.passes
    inbound.reconciler.wake.set()

    async def passed() -> bool:
        return inbound.reconciler is not None and inbound.reconciler.passes > before

    await wait_for(passed, timeout_s=20, interval_s=0.05)


async def test_a_reps_edit_reaches_the_mirror_and_survives_the_next_lead(sync: Sync) -> None:
    """The seed lead arrives; a rep's edit (own token: tag hot-lead, title VP Growth) shows in
    the inspector's mirror within 2 s, from a webhook; the visitor's next event (Signed Up) adds
    signup and keeps hot-lead and VP Growth; the event's trace links to the mirror."""
    traits: dict[str, Any] = {"company": "Acme Inc", "title": "Head of Growth"}
    await sync.send(identify("u-1", EMAIL, **traits), track("u-1", "Demo Requested"))

    async def created() -> bool:
        found = await sync.sandbox.prospects()
        return bool(found) and "demo-request" in found[0]["attributes"]["tags"]

    await wait_for(created, timeout_s=30, interval_s=0.05)
    prospect_id = (await sync.prospect())["id"]
    rep = await sync.rep()
    tags = [*(await sync.prospect())["attributes"]["tags"], "hot-lead"]
    edited_at = time.monotonic()
    reply = await rep.patch("prospects", prospect_id, {"tags": tags, "title": "VP Growth"})
    assert reply.status == 200

    async def mirrored() -> bool:
        view = await sync.mirror(prospect_id)
        return view is not None and "hot-lead" in view["tags"]

    await wait_for(mirrored, timeout_s=2, interval_s=0.02)
    assert time.monotonic() - edited_at < 2
    view = await sync.mirror(prospect_id)
    assert view is not None
    assert view["source"] == "webhook"
    assert view["attributes"]["title"] == "VP Growth"

    await sync.send(track("u-1", "Signed Up"))

    async def signed_up() -> bool:
        return "signup" in (await sync.prospect())["attributes"]["tags"]

    await wait_for(signed_up, timeout_s=30, interval_s=0.05)
    attributes = (await sync.prospect())["attributes"]
    assert {"hot-lead", "signup", "demo-request", "Signal"} <= set(attributes["tags"])
    assert attributes["title"] == "VP Growth"
    delivered: list[str] = []

    async def traced() -> bool:
        # the inspector folds the delivery record from the traces topic: it may trail the write
        async with sync.http.get(
            f"{sync.url}/inspector/api/events?outcome=delivered",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            events = (await response.json())["events"]
        delivered[:] = [e["messageId"] for e in events if e["prospectId"] == prospect_id]
        return bool(delivered)

    await wait_for(traced, timeout_s=30, interval_s=0.1)
    message_id = delivered[0]
    async with sync.http.get(
        f"{sync.url}/inspector/api/events/{message_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as response:
        detail = await response.json()
    assert detail["mirror"] == f"/inspector/api/outreach/prospects/{prospect_id}"


async def test_a_forged_delivery_changes_nothing(sync: Sync) -> None:
    """A delivery signed with another secret gets 401 and the mirror stays as it was."""
    await sync.send(identify("u-2", "forge@acme.com"), track("u-2", "Demo Requested"))

    async def mirrored() -> bool:
        found = await sync.sandbox.prospects()
        return bool(found) and await sync.mirror(found[0]["id"]) is not None

    await wait_for(mirrored, timeout_s=30, interval_s=0.05)
    prospect_id = (await sync.prospect())["id"]
    before = await sync.mirror(prospect_id)
    body = orjson.dumps(
        {
            "data": {"type": "prospect", "id": prospect_id, "attributes": {"tags": ["pwned"]}},
            "meta": {"eventName": "prospect.updated", "deliveredAt": "2026-01-01T00:00:00+00:00"},
        }
    )
    async with sync.http.post(
        f"{sync.url}/outreach/webhooks",
        data=body,
        headers={"Outreach-Webhook-Signature": "0" * 64, "Content-Type": "application/json"},
    ) as response:
        assert response.status == 401
    await asyncio.sleep(0.3)
    assert await sync.mirror(prospect_id) == before


async def test_with_every_webhook_dropped_the_next_pass_brings_the_edit(sync: Sync) -> None:
    """P31: the sandbox loses every delivery; the next reconciliation pass puts the rep's edit
    into the mirror (source poll)."""
    await sync.send(identify("u-3", "lost@acme.com"), track("u-3", "Demo Requested"))

    async def mirrored() -> bool:
        found = await sync.sandbox.prospects()
        return bool(found) and await sync.mirror(found[0]["id"]) is not None

    await wait_for(mirrored, timeout_s=30, interval_s=0.05)
    prospect_id = (await sync.prospect())["id"]
    await sync.sandbox.faults(webhooks={"drop_share": 1.0})
    rep = await sync.rep()
    await rep.patch("prospects", prospect_id, {"title": "Chief Revenue Officer"})
    await sync.sandbox.deliveries_settled()
    await asyncio.sleep(0.2)
    view = await sync.mirror(prospect_id)
    assert view is not None
    assert view["attributes"].get("title") != "Chief Revenue Officer"
    await _reconcile(sync)

    async def recovered() -> bool:
        view = await sync.mirror(prospect_id)
        return view is not None and view["attributes"].get("title") == "Chief Revenue Officer"

    await wait_for(recovered, timeout_s=10, interval_s=0.05)
    view = await sync.mirror(prospect_id)
    assert view is not None
    assert view["source"] == "poll"
    changes = await read_topic(
        sync.settings.kafka.bootstrap_servers, sync.settings.kafka.changes_topic
    )
    assert any(
        orjson.loads(r.value)["changed"].get("title") == "Chief Revenue Officer" for r in changes
    )


async def test_bad_inbound_records_are_dead_lettered_and_others_ignored(sync: Sync) -> None:
    """A record that is not a change is dead-lettered as invalid_outreach_change; a change to a
    resource the mirror does not keep is skipped; the worker keeps going."""
    kafka = sync.settings.kafka
    sequence = orjson.dumps(
        {"data": {"type": "sequence", "id": 4, "attributes": {}},
         "meta": {"eventName": "sequence.created"}}
    )  # fmt: skip
    account = orjson.dumps(
        {"data": {"type": "account", "id": 9, "attributes": {"name": "Acme",
                  "updatedAt": "2026-11-30T10:00:00.000Z"}},
         "meta": {"eventName": "account.created"}}
    )  # fmt: skip
    await produce(
        kafka.bootstrap_servers,
        kafka.inbound_topic,
        [(b"x:1", b"not json"), (b"sequence:4", sequence), (b"account:9", account)],
    )

    async def dead_lettered() -> bool:
        letters = await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic)
        return any(
            dict(r.headers).get("leadgate.error.reason") == b"invalid_outreach_change"
            for r in letters
        )

    await wait_for(dead_lettered, timeout_s=20, interval_s=0.1)
    inbound = sync.running.workers.inbound if sync.running.workers else None
    assert inbound is not None

    async def account_mirrored() -> bool:
        return await inbound.worker.mirror.get("account", 9) is not None

    await wait_for(account_mirrored, timeout_s=20, interval_s=0.05)
    assert await inbound.worker.mirror.get("account", 4) is None
