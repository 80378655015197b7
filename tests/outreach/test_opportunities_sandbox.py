"""Opportunities into the real sandbox: created once and updated by their source id (also after
a lost memory and an ambiguous create), stage by name, account by domain, contacts as prospects,
one role per (opportunity, person, role), roles removed at the source removed in Outreach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from leadgate.domain.lead import LeadIntent
from leadgate.domain.opportunity import OpportunityContact, OpportunityPlan, SourceRef
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.outreach.handlers import build_dispatcher
from leadgate.pipeline.privacy import email_identifier
from leadgate.store.base import StateStore
from leadgate.store.memory import MemoryStore
from leadgate.store.suppression import PersonHasher, SuppressionList
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, token_request


@pytest.fixture
async def sandbox(make_sandbox: MakeSandbox) -> SandboxHandle:
    """A sandbox that mints tokens without a pause (the test acts as a second client)."""
    return await make_sandbox(mint_interval_s=0.0)


async def someone_else(sandbox: SandboxHandle) -> Api:
    """Another Outreach client (a rep's tool): its own refresh token and access token."""
    refresh = await sandbox.issue_refresh_token(*sandbox.config.scopes)
    status, body, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=refresh
    )
    assert status == 200, body
    return Api(sandbox, str(body["access_token"]))


DECIDER = OpportunityContact(email="jane.doe@acme.example", role="Decision Maker", primary=True)
CHAMPION = OpportunityContact(email="jane.doe@acme.example", role="Champion")
BUYER = OpportunityContact(email="bob@acme.example", role="Economic Buyer")


def make_intent(**overrides: Any) -> LeadIntent:
    """An upsert_opportunity intent of workbooks' OPP-1 with ``overrides`` on its plan."""
    values: dict[str, Any] = {
        "source_id": "OPP-1",
        "name": "Acme renewal",
        "amount": "5000",
        "currency": "EUR",
        "close_date": "2026-12-31T00:00:00.000Z",
        "stage": "Negotiation",
        "owner": "alice",
        "account_domain": "acme.example",
        "contacts": (DECIDER,),
    }
    values.update(overrides)
    plan = OpportunityPlan(**values)
    return LeadIntent(
        kind="upsert_opportunity",
        email="",
        attributes={},
        message_ids=("m-1",),
        source=SourceRef(system="workbooks", kind="opportunity", id=plan.source_id),
        opportunity=plan,
    )


@asynccontextmanager
async def delivering(sandbox: SandboxHandle, store: StateStore) -> AsyncIterator[Any]:
    """``deliver(intent) -> (result, ["METHOD /path status", ...])`` through the dispatcher."""
    settings = make_settings(sandbox.url)
    async with OutreachClient(settings, store) as client:
        dispatcher = build_dispatcher(client, store, settings)

        async def deliver(intent: LeadIntent) -> tuple[DeliveryResult, list[str]]:
            exchanges = ExchangeRecorder()
            result = await dispatcher.deliver(intent, exchanges)
            calls = [f"{e.method} {e.path.partition('?')[0]} {e.status}" for e in exchanges]
            return result, calls

        yield deliver


async def _roles(sandbox: SandboxHandle) -> list[tuple[int, int, str, bool]]:
    """(opportunity, prospect, role, primary) of every stored role, sorted."""
    return sorted(
        (
            r["relationships"]["opportunity"]["data"]["id"],
            r["relationships"]["prospect"]["data"]["id"],
            r["attributes"]["role"],
            r["attributes"]["primary"],
        )
        for r in await sandbox.records("opportunityProspectRoles")
    )


async def test_create_then_update_then_nothing(sandbox: SandboxHandle) -> None:
    """The first delivery creates the opportunity (stage, account, customId) and its contact's
    prospect and role; a new amount PATCHes only the amount; the same record again costs 0."""
    store = MemoryStore()
    async with delivering(sandbox, store) as deliver:
        created, _ = await deliver(make_intent())
        updated, update_calls = await deliver(make_intent(amount="7500"))
        same, same_calls = await deliver(make_intent(amount="7500"))
    assert (created.record_type, created.action) == ("opportunity", "created")
    (opportunity,) = await sandbox.records("opportunities")
    assert opportunity["id"] == created.record_id == updated.record_id == same.record_id
    stages = {s["attributes"]["name"]: s["id"] for s in await sandbox.records("opportunityStages")}
    users = {u["attributes"].get("username"): u["id"] for u in await sandbox.users()}
    relationships = opportunity["relationships"]
    assert relationships["owner"]["data"]["id"] == users["alice"]
    assert relationships["opportunityStage"]["data"]["id"] == stages["Negotiation"]
    (account,) = await sandbox.accounts()
    assert account["attributes"]["domain"] == "acme.example"
    assert relationships["account"]["data"]["id"] == account["id"] == created.account_id
    attributes = opportunity["attributes"]
    assert attributes["customId"] == "workbooks:OPP-1"
    assert (attributes["amount"], attributes["currencyType"]) == (7500, "EUR")
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emails"] == ["jane.doe@acme.example"]
    assert relationships["primaryProspect"]["data"]["id"] == prospect["id"]
    assert await _roles(sandbox) == [(opportunity["id"], prospect["id"], "Decision Maker", True)]
    assert updated.action == "updated"
    assert update_calls == [f"PATCH /api/v2/opportunities/{opportunity['id']} 200"]
    requests = [r for r in await sandbox.api_requests() if r["method"] == "PATCH"]
    assert requests[-1]["body"]["data"]["attributes"] == {"amountPrecise": "7500", "amount": 7500}
    assert (same.action, same_calls) == ("unchanged", [])


async def test_two_roles_of_one_person_and_a_role_removed_at_the_source(
    sandbox: SandboxHandle,
) -> None:
    """One person related twice gets two roles; dropping a role at the source deletes it in
    Outreach; a role someone added in Outreach is left alone."""
    store = MemoryStore()
    async with delivering(sandbox, store) as deliver:
        first, _ = await deliver(make_intent(contacts=(DECIDER, CHAMPION, BUYER)))
        opportunity_id = first.record_id
        assert opportunity_id is not None
        jane, bob = (p["id"] for p in await sandbox.prospects())
        assert await _roles(sandbox) == [
            (opportunity_id, jane, "Champion", False),
            (opportunity_id, jane, "Decision Maker", True),
            (opportunity_id, bob, "Economic Buyer", False),
        ]
        (champion,) = [
            r["id"]
            for r in await sandbox.records("opportunityProspectRoles")
            if r["attributes"]["role"] == "Champion"
        ]
        rep = await someone_else(sandbox)
        document = {
            "data": {
                "type": "opportunityProspectRole",
                "attributes": {"role": "Influencer"},
                "relationships": {
                    "opportunity": {"data": {"type": "opportunity", "id": opportunity_id}},
                    "prospect": {"data": {"type": "prospect", "id": bob}},
                },
            }
        }
        added = await rep.call("POST", "/api/v2/opportunityProspectRoles", document)
        assert added.status == 201
        second, calls = await deliver(make_intent(contacts=(DECIDER, BUYER)))
    assert second.action == "updated"
    assert [c for c in calls if c.startswith("DELETE")] == [
        f"DELETE /api/v2/opportunityProspectRoles/{champion} 204"
    ]
    assert await _roles(sandbox) == [
        (opportunity_id, jane, "Decision Maker", True),
        (opportunity_id, bob, "Economic Buyer", False),
        (opportunity_id, bob, "Influencer", None),
    ]


async def test_a_lost_memory_is_rebuilt_by_lookups_not_by_second_records(
    sandbox: SandboxHandle,
) -> None:
    """With a fresh state store the opportunity is found by its customId and its roles among the
    opportunity's roles: still one opportunity and one role each."""
    before = MemoryStore()
    async with delivering(sandbox, before) as deliver:
        first, _ = await deliver(make_intent(contacts=(DECIDER, BUYER)))
    lost = MemoryStore()  # everything forgotten but the OAuth tokens (rotated on first use)
    tokens = await before.load_tokens()
    assert tokens is not None
    await lost.save_tokens(tokens)
    async with delivering(sandbox, lost) as deliver:
        again, calls = await deliver(make_intent(contacts=(DECIDER, BUYER), amount="9000"))
    assert again.record_id == first.record_id
    assert again.action == "updated"
    assert not [c for c in calls if c.startswith("POST /api/v2/opp")]
    assert len(await sandbox.records("opportunities")) == 1
    assert len(await _roles(sandbox)) == 2
    assert len(await sandbox.prospects()) == 2


async def test_an_ambiguous_create_is_resolved_by_the_lookup(sandbox: SandboxHandle) -> None:
    """The POST of the opportunity and of its role happen but their answers are lost: the
    retries find both, and Outreach holds one of each."""
    store = MemoryStore()
    await sandbox.faults(lose_responses=1, method="POST", path_prefix="/api/v2/opportunities")
    await sandbox.faults(
        lose_responses=1, method="POST", path_prefix="/api/v2/opportunityProspectRoles"
    )
    async with delivering(sandbox, store) as deliver:
        failures = 0
        while True:
            try:
                result, _ = await deliver(make_intent())
                break
            except RetriableError:  # each lost answer fails one attempt, as in production
                failures += 1
                assert failures <= 2
    assert len(await sandbox.records("opportunities")) == 1
    assert len(await _roles(sandbox)) == 1
    assert failures == 2
    assert result.record_id == (await sandbox.records("opportunities"))[0]["id"]


async def test_an_unknown_owner_is_left_blank_and_said_so(sandbox: SandboxHandle) -> None:
    """An owner username Outreach does not know: no owner, a note in the result, delivered."""
    async with delivering(sandbox, MemoryStore()) as deliver:
        result, _ = await deliver(make_intent(owner="zed"))
    assert result.action == "created"
    assert result.notes == ("owner 'zed' is no Outreach username: left blank",)
    (opportunity,) = await sandbox.records("opportunities")
    assert opportunity["relationships"]["owner"] == {"data": None}


async def test_an_unknown_stage_is_a_permanent_failure_a_person_can_fix(
    sandbox: SandboxHandle,
) -> None:
    """A stage name Outreach does not know: unknown_stage, and nothing is written."""
    async with delivering(sandbox, MemoryStore()) as deliver:
        with pytest.raises(PermanentError) as caught:
            await deliver(make_intent(stage="Won Big"))
    assert caught.value.reason == "unknown_stage"
    assert "Won Big" in caught.value.message
    assert await sandbox.records("opportunities") == []


async def test_an_existing_contact_is_linked_but_left_as_it_is(sandbox: SandboxHandle) -> None:
    """A contact whose prospect exists (made by someone else) is linked by a role and not
    PATCHed: the person's own fields are not leadgate's to change."""
    rep = await someone_else(sandbox)
    made = await rep.create("prospects", {"emails": ["jane.doe@acme.example"], "title": "CFO"})
    existing = made.json["data"]["id"]
    async with delivering(sandbox, MemoryStore()) as deliver:
        _, calls = await deliver(make_intent())
    assert not [c for c in calls if c.startswith("PATCH /api/v2/prospects")]
    ((_, prospect, _, _),) = await _roles(sandbox)
    assert prospect == existing
    (stored,) = await sandbox.prospects()
    assert stored["attributes"]["title"] == "CFO"


async def test_a_forgotten_contact_is_never_made_a_prospect_again(sandbox: SandboxHandle) -> None:
    """A contact who asked to be forgotten (on the suppression list) gets no prospect and no
    role; the opportunity and its other contacts go on, with a note saying so."""
    store = MemoryStore()
    suppressions = SuppressionList(store, PersonHasher(b"test-salt"))
    await suppressions.add([email_identifier(DECIDER.email)])
    settings = make_settings(sandbox.url)
    async with OutreachClient(settings, store) as client:
        dispatcher = build_dispatcher(client, store, settings, suppressions)
        result = await dispatcher.deliver(
            make_intent(contacts=(DECIDER, BUYER)), ExchangeRecorder()
        )
    assert result.action == "created"
    assert "a contact who asked to be forgotten was left out" in result.notes
    assert [p["attributes"]["emails"] for p in await sandbox.prospects()] == [[BUYER.email]]
    ((_, _, role, _),) = await _roles(sandbox)
    assert role == "Economic Buyer"
