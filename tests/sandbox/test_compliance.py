"""Compliance requests: filed with requestType Delete, pending → running → done on the sandbox
clock, deleting the prospect (and what links to it) when done; listed under /__sandbox."""

from __future__ import annotations

from typing import Any

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import Api, Reply, authed


async def _file(api: Api, **attributes: Any) -> Reply:
    body = {"data": {"type": "complianceRequest", "attributes": attributes}}
    return await api.call("POST", "/api/v2/complianceRequests", body)


async def test_a_delete_request_goes_pending_running_done_and_deletes_the_prospect(
    sandbox: SandboxHandle,
) -> None:
    """The request is pending when filed, running one step later, done after two; then the
    prospect it names is gone."""
    api = await authed(sandbox)
    prospect = await api.create("prospects", {"emails": ["jane@acme.com"]})
    other = await api.create("prospects", {"emails": ["joe@acme.com"]})
    reply = await _file(
        api,
        requestType="Delete",
        objectType="Prospect",
        requestObjectId=str(prospect.json["data"]["id"]),
    )
    assert reply.status == 201
    filed = reply.json["data"]
    assert filed["type"] == "complianceRequest"
    assert filed["attributes"]["state"] == "pending"
    path = f"/api/v2/complianceRequests/{filed['id']}"

    await sandbox.advance_clock(sandbox.config.compliance_step_s)
    assert (await api.get(path)).json["data"]["attributes"]["state"] == "running"
    assert len(await sandbox.prospects()) == 2

    await sandbox.advance_clock(sandbox.config.compliance_step_s)
    assert (await api.get(path)).json["data"]["attributes"]["state"] == "done"
    remaining = await sandbox.prospects()
    assert [p["id"] for p in remaining] == [other.json["data"]["id"]]
    (listed,) = await sandbox.compliance_requests()
    assert listed["attributes"]["state"] == "done"
    assert listed["attributes"]["requestObjectId"] == str(prospect.json["data"]["id"])


async def test_a_request_by_email_deletes_the_prospect_holding_it(sandbox: SandboxHandle) -> None:
    """A Recipient request names an email address; the prospect holding it is deleted."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["Jane@Acme.com"]})
    reply = await _file(
        api, requestType="Delete", objectType="Recipient", requestObjectId="jane@acme.com"
    )
    assert reply.status == 201
    await sandbox.advance_clock(2 * sandbox.config.compliance_step_s)
    assert await sandbox.prospects() == []
    listed = await api.get("/api/v2/complianceRequests")
    assert [r["attributes"]["state"] for r in listed.json["data"]] == ["done"]


async def test_only_delete_requests_with_a_target_are_accepted(sandbox: SandboxHandle) -> None:
    """An export request, an unknown object type or a missing target is a 422 naming it."""
    api = await authed(sandbox)
    cases = [
        (
            {"requestType": "Export", "objectType": "Prospect", "requestObjectId": "1"},
            "requestType",
        ),
        ({"requestType": "Delete", "objectType": "Account", "requestObjectId": "1"}, "objectType"),
        ({"requestType": "Delete", "objectType": "Prospect"}, "requestObjectId"),
        (
            {
                "requestType": "Delete",
                "objectType": "Prospect",
                "requestObjectId": "1",
                "state": "done",
            },
            "state",
        ),
    ]
    for attributes, named in cases:
        reply = await _file(api, **attributes)
        assert reply.status == 422, attributes
        assert reply.json["errors"][0]["source"]["pointer"] == f"/data/attributes/{named}"
    assert await sandbox.compliance_requests() == []


async def test_filing_needs_the_compliance_scope(sandbox: SandboxHandle) -> None:
    """A token without complianceRequests.write gets 403 unauthorizedOauthScope."""
    token = await sandbox.token_for(await sandbox.issue_refresh_token("prospects.all"))
    reply = await _file(
        Api(sandbox, token), requestType="Delete", objectType="Recipient", requestObjectId="a@b.co"
    )
    assert reply.status == 403
    assert reply.error_id == "unauthorizedOauthScope"


async def test_a_request_cannot_be_changed_or_deleted(sandbox: SandboxHandle) -> None:
    """Outreach offers no PATCH or DELETE of a compliance request: 404 routeNotFound."""
    api = await authed(sandbox)
    filed = await _file(api, requestType="Delete", objectType="Recipient", requestObjectId="a@b.co")
    path = f"/api/v2/complianceRequests/{filed.json['data']['id']}"
    assert (await api.call("DELETE", path)).error_id == "routeNotFound"
    body = {"data": {"type": "complianceRequest", "id": filed.json["data"]["id"]}}
    assert (await api.call("PATCH", path, body)).error_id == "routeNotFound"
