"""Webhook deliveries as Outreach sends them: one signed POST per change and matching webhook, only
the changed attributes, flat relationships, no retry of an error status, 3 retries of a refused
connection, and fault injection that drops or delays deliveries."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from typing import Any

import orjson

from tests.plugins.sandbox import MakeSandbox, Receiver, SandboxHandle
from tests.sandbox.api import Api, authed

SECRET = "whsec-test-0123456789abcdef"


async def _hook(api: Api, url: str, **attributes: Any) -> int:
    reply = await api.create("webhooks", {"url": url, "secret": SECRET, **attributes})
    assert reply.status == 201, reply.text
    return int(reply.json["data"]["id"])


def _bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for _, raw in receiver.received]


async def test_create_update_destroy_arrive_signed_in_outreach_format(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    """Each change is one POST: HMAC-SHA256 hex of the raw body, only changed attributes on an
    update, flat relationships, integer ids, meta.eventName and meta.deliveredAt."""
    api = await authed(sandbox)
    hook_id = await _hook(api, receiver.url)
    created = await api.create("prospects", {"emails": ["ada@acme.com"], "title": "CTO"}, owner=1)
    prospect_id = created.json["data"]["id"]
    await api.patch("prospects", prospect_id, {"title": "VP", "tags": ["hot-lead"]})
    await api.call("DELETE", f"/api/v2/prospects/{prospect_id}")
    await receiver.wait_for(3)
    bodies = _bodies(receiver)
    assert [b["meta"]["eventName"] for b in bodies] == [
        "prospect.created",
        "prospect.updated",
        "prospect.destroyed",
    ]
    for headers, raw in receiver.received:
        expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["Outreach-Webhook-Signature"] == expected
        assert headers["Content-Type"] == "application/vnd.api+json"
        assert headers["Outreach-Webhook-Id"] == str(hook_id)
        assert headers["Outreach-Webhook-Event-Id"]
    first, update, destroyed = bodies
    assert first["data"]["id"] == prospect_id
    assert first["data"]["relationships"] == {"owner": {"type": "owner", "id": 1}}
    assert first["data"]["attributes"]["emails"] == ["ada@acme.com"]
    assert set(update["data"]["attributes"]) == {"title", "tags", "updatedAt"}
    assert update["data"]["attributes"]["title"] == "VP"
    assert update["data"]["relationships"] == {}
    assert update["meta"]["deliveredAt"].endswith("+00:00")
    assert "beforeUpdate" not in update
    assert destroyed["data"]["attributes"]["title"] == "VP"
    ids = {b["meta"]["jobId"] for b in bodies}
    assert len(ids) == 3


async def test_payload_version_2_adds_before_update_and_filters_resource_and_action(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    """A prospect/updated webhook with payloadVersion 2 gets only prospect updates, with the old
    values in beforeUpdate; an inactive webhook gets nothing."""
    api = await authed(sandbox)
    await _hook(api, receiver.url, resource="prospect", action="updated", payloadVersion=2)
    await _hook(api, receiver.url, active=False)
    await api.create("accounts", {"name": "Acme"})
    created = await api.create("prospects", {"emails": ["ada@acme.com"], "title": "CTO"})
    await api.patch("prospects", created.json["data"]["id"], {"title": "VP"})
    await api.call(
        "PATCH",
        f"/api/v2/prospects/{created.json['data']['id']}",
        {
            "data": {
                "type": "prospect",
                "id": created.json["data"]["id"],
                "relationships": {"account": {"data": {"type": "account", "id": 1}}},
            }
        },
    )
    settled = await sandbox.deliveries_settled()
    assert len(settled) == 2
    bodies = _bodies(receiver)
    assert [b["meta"]["eventName"] for b in bodies] == ["prospect.updated"] * 2
    assert bodies[0]["beforeUpdate"] == {"title": "CTO"}
    assert bodies[1]["data"]["relationships"] == {"account": {"type": "account", "id": 1}}


async def test_a_no_op_update_delivers_nothing(sandbox: SandboxHandle, receiver: Receiver) -> None:
    """A PATCH that changes no value is not a change and sends no delivery."""
    api = await authed(sandbox)
    await _hook(api, receiver.url)
    created = await api.create("prospects", {"emails": ["ada@acme.com"], "title": "CTO"})
    await api.patch("prospects", created.json["data"]["id"], {"title": "CTO"})
    assert len(await sandbox.deliveries_settled()) == 1


async def test_an_error_status_is_not_retried(sandbox: SandboxHandle, receiver: Receiver) -> None:
    """Outreach treats 500 (and 503, 429) as an answer: one attempt, never again."""
    receiver.status = 503
    api = await authed(sandbox)
    await _hook(api, receiver.url)
    await api.create("prospects", {"emails": ["ada@acme.com"]})
    [delivery] = await sandbox.deliveries_settled()
    assert (delivery["status"], delivery["attempts"], delivery["outcome"]) == (
        503,
        1,
        "error_status",
    )
    assert len(receiver.received) == 1


async def test_a_refused_connection_is_retried_three_times(make_sandbox: MakeSandbox) -> None:
    """Nothing listening: 1 + 3 attempts, webhook_retry_delay_s apart, then given up."""
    sandbox = await make_sandbox(webhook_retry_delay_s=0.05)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = await authed(sandbox)
    await _hook(api, f"http://127.0.0.1:{port}/hooks")
    started = time.monotonic()
    await api.create("prospects", {"emails": ["ada@acme.com"]})
    [delivery] = await sandbox.deliveries_settled()
    assert (delivery["attempts"], delivery["outcome"]) == (4, "unreachable")
    assert time.monotonic() - started >= 0.15


async def test_faults_drop_or_delay_deliveries(sandbox: SandboxHandle, receiver: Receiver) -> None:
    """drop_share 1 loses every delivery; delay_ms holds the next ones back that long."""
    api = await authed(sandbox)
    await _hook(api, receiver.url)
    await sandbox.faults(webhooks={"drop_share": 1.0})
    await api.create("prospects", {"emails": ["ada@acme.com"]})
    [dropped] = await sandbox.deliveries_settled()
    assert dropped["outcome"] == "dropped"
    assert receiver.received == []
    await sandbox.faults(webhooks={"delay_ms": 300})
    started = time.monotonic()
    await api.create("prospects", {"emails": ["bob@acme.com"]})
    await receiver.wait_for(1)
    assert time.monotonic() - started >= 0.3
    faults = await sandbox.faults(clear=True)
    assert faults["webhooks"] == {"drop_share": 0.0, "delay_share": 1.0, "delay_ms": 0}


async def test_a_rep_holds_a_token_of_their_own(sandbox: SandboxHandle, receiver: Receiver) -> None:
    """The mint throttle is per user: a rep mints right after the integration's user did, and
    the rep's edit is delivered like any other change."""
    api = await authed(sandbox)
    await _hook(api, receiver.url)
    rep = await api.create("users", {"email": "rep@acme.com", "firstName": "Rita"})
    rep_id = rep.json["data"]["id"]
    created = await api.create("prospects", {"emails": ["ada@acme.com"], "title": "CTO"})
    rep_refresh = await sandbox.issue_refresh_token("prospects.all", user=rep_id)
    rep_api = Api(sandbox, await sandbox.token_for(rep_refresh))
    reply = await rep_api.patch("prospects", created.json["data"]["id"], {"title": "VP Growth"})
    assert reply.status == 200
    # The integration's own user is still throttled: one mint per user per 60 s.
    again = await sandbox.issue_refresh_token("prospects.all")
    async with sandbox.session.post(
        f"{sandbox.url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "refresh_token": again,
        },
    ) as throttled:
        assert throttled.status == 429
    await receiver.wait_for(3)
    assert _bodies(receiver)[-1]["data"]["attributes"]["title"] == "VP Growth"


async def test_refresh_tokens_for_an_unknown_user_are_refused(sandbox: SandboxHandle) -> None:
    """The admin endpoint only issues tokens to users that exist."""
    async with sandbox.session.post(
        f"{sandbox.url}/__sandbox/refresh-tokens", json={"scopes": ["prospects.all"], "user": 99}
    ) as response:
        assert response.status == 400


async def test_the_change_hook_delivers_changes_of_other_sandbox_modules(
    receiver: Receiver,
) -> None:
    """A module that keeps its own resources reports a change through state.changes.emit and it
    is delivered like a prospect's, with its own action name."""
    from aiohttp import web

    from leadgate.sandbox import build_sandbox_app
    from leadgate.sandbox.changes import Change
    from leadgate.sandbox.documents import Write
    from leadgate.sandbox.schema import WEBHOOK
    from leadgate.sandbox.state import SANDBOX

    app = build_sandbox_app()
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        state = app[SANDBOX]
        state.store.create(WEBHOOK, Write({"url": receiver.url, "secret": SECRET}, {}))
        state.changes.emit(
            Change("sequenceState", "finished", 5, {"state": "finished"}, {"prospect": 12})
        )
        await receiver.wait_for(1)
    finally:
        await runner.cleanup()
    body = _bodies(receiver)[0]
    assert body["meta"]["eventName"] == "sequenceState.finished"
    assert body["data"] == {
        "type": "sequenceState",
        "id": 5,
        "attributes": {"state": "finished"},
        "relationships": {"prospect": {"type": "prospect", "id": 12}},
    }
