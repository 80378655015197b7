"""Opportunities, opportunity stages and opportunityProspectRoles: the default stages, creates and
updates with their relationships, the 422s for missing or malformed fields, lookups by the
source id and by name, and roles going with their opportunity."""

from __future__ import annotations

from typing import Any

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import Api, Reply, authed

STAGES = ["Prospecting", "Qualification", "Negotiation", "Closed Won", "Closed Lost"]


def _link(kind: str, id_: int) -> dict[str, Any]:
    return {"data": {"type": kind, "id": id_}}


async def _opportunity(api: Api, attributes: dict[str, Any], **links: Any) -> Reply:
    data: dict[str, Any] = {"type": "opportunity", "attributes": attributes}
    if links:
        data["relationships"] = links
    return await api.call("POST", "/api/v2/opportunities", {"data": data})


async def _role(api: Api, attributes: dict[str, Any], **links: Any) -> Reply:
    data: dict[str, Any] = {"type": "opportunityProspectRole", "attributes": attributes}
    if links:
        data["relationships"] = links
    return await api.call("POST", "/api/v2/opportunityProspectRoles", {"data": data})


async def test_default_stages_are_seeded_and_come_back_after_reset(sandbox: SandboxHandle) -> None:
    """A new sandbox, and one reset, serve the five default opportunity stages, findable by name."""
    assert [s["attributes"]["name"] for s in await sandbox.records("opportunityStages")] == STAGES
    await sandbox.reset()
    api = await authed(sandbox)
    reply = await api.get("/api/v2/opportunityStages", **{"filter[name]": "negotiation"})
    assert reply.status == 200
    (stage,) = reply.json["data"]
    assert stage["type"] == "opportunityStage"
    assert stage["attributes"]["name"] == "Negotiation"
    assert stage["attributes"]["isClosed"] is False


async def test_create_with_stage_owner_account_and_read_it_back(sandbox: SandboxHandle) -> None:
    """An opportunity keeps its attributes and its stage, owner and account relationships."""
    api = await authed(sandbox)
    account = (await api.create("accounts", {"name": "Acme", "domain": "acme.com"})).json["data"]
    reply = await _opportunity(
        api,
        {"name": "Acme renewal", "amount": 5000, "closeDate": "2026-12-31T00:00:00Z",
         "currencyType": "EUR", "customId": "crm:OPP-1"},
        account=_link("account", account["id"]),
        owner=_link("user", 1),
        opportunityStage=_link("opportunityStage", 3),
    )  # fmt: skip
    assert reply.status == 201
    data = reply.json["data"]
    assert data["type"] == "opportunity"
    assert data["links"]["self"] == f"{sandbox.url}/api/v2/opportunities/{data['id']}"
    assert data["attributes"]["amount"] == 5000
    assert data["relationships"]["opportunityStage"] == _link("opportunityStage", 3)
    assert data["relationships"]["account"] == _link("account", account["id"])
    found = await api.get("/api/v2/opportunities", **{"filter[customId]": "crm:OPP-1"})
    assert [o["id"] for o in found.json["data"]] == [data["id"]]
    patched = await api.call(
        "PATCH",
        f"/api/v2/opportunities/{data['id']}",
        {"data": {"type": "opportunity", "id": data["id"], "attributes": {"amount": 7000}}},
    )
    assert patched.status == 200
    assert patched.json["data"]["attributes"]["amount"] == 7000
    assert patched.json["data"]["attributes"]["name"] == "Acme renewal"


async def test_missing_and_malformed_fields_are_422s(sandbox: SandboxHandle) -> None:
    """No name, no close date, a fractional amount or an unknown stage id: 422 with a pointer."""
    api = await authed(sandbox)
    cases: list[tuple[dict[str, Any], dict[str, Any], str, str]] = [
        ({"closeDate": "2026-12-31"}, {}, "/data/attributes/name", "Name can't be blank."),
        ({"name": "X"}, {}, "/data/attributes/closeDate", "Close date can't be blank."),
        ({"name": "X", "closeDate": "soon"}, {}, "/data/attributes/closeDate",
         "Close date is not a valid date-time."),
        ({"name": "X", "closeDate": "2026-12-31", "amount": 10.5}, {}, "/data/attributes/amount",
         "Amount must be an integer."),
        ({"name": "X", "closeDate": "2026-12-31"},
         {"opportunityStage": _link("opportunityStage", 99)},
         "/data/relationships/opportunityStage", "Could not find 'opportunityStage' with ID '99'."),
    ]  # fmt: skip
    for attributes, links, pointer, detail in cases:
        reply = await _opportunity(api, attributes, **links)
        assert reply.status == 422, attributes
        assert reply.error_id == "validationError"
        assert reply.json["errors"][0]["source"]["pointer"] == pointer
        assert reply.detail == detail
    assert await sandbox.records("opportunities") == []


async def test_roles_link_prospects_and_need_both_sides(sandbox: SandboxHandle) -> None:
    """A role links one prospect to one opportunity; without either side it is a 422; one person
    may hold two roles on one opportunity; roles are filterable by opportunity id."""
    api = await authed(sandbox)
    prospect = (await api.create("prospects", {"emails": ["ada@acme.com"]})).json["data"]
    opportunity = (
        await _opportunity(api, {"name": "Deal", "closeDate": "2026-12-31T00:00:00Z"})
    ).json["data"]
    links = {
        "opportunity": _link("opportunity", opportunity["id"]),
        "prospect": _link("prospect", prospect["id"]),
    }
    first = await _role(api, {"role": "Decision Maker", "primary": True}, **links)
    assert first.status == 201
    assert first.json["data"]["relationships"]["opportunity"] == links["opportunity"]
    second = await _role(api, {"role": "Champion"}, **links)
    assert second.status == 201
    lonely = await _role(api, {"role": "Champion"}, prospect=links["prospect"])
    assert lonely.status == 422
    assert lonely.json["errors"][0]["source"]["pointer"] == "/data/relationships/opportunity"
    assert lonely.detail == "Opportunity must exist."
    listed = await api.get(
        "/api/v2/opportunityProspectRoles", **{"filter[opportunity][id]": str(opportunity["id"])}
    )
    assert sorted(r["attributes"]["role"] for r in listed.json["data"]) == [
        "Champion",
        "Decision Maker",
    ]


async def test_deleting_an_opportunity_deletes_its_roles(sandbox: SandboxHandle) -> None:
    """Roles exist only through their opportunity: DELETE takes them along, the prospect stays."""
    api = await authed(sandbox)
    prospect = (await api.create("prospects", {"emails": ["ada@acme.com"]})).json["data"]
    opportunity = (
        await _opportunity(api, {"name": "Deal", "closeDate": "2026-12-31T00:00:00Z"})
    ).json["data"]
    await _role(
        api,
        {"role": "Champion"},
        opportunity=_link("opportunity", opportunity["id"]),
        prospect=_link("prospect", prospect["id"]),
    )
    deleted = await api.call("DELETE", f"/api/v2/opportunities/{opportunity['id']}")
    assert deleted.status == 204
    assert await sandbox.records("opportunityProspectRoles") == []
    assert len(await sandbox.prospects()) == 1
