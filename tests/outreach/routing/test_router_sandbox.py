"""Routing against the real sandbox: owner and stage inside the create, one enrolment per
prospect and sequence whatever fails, and the explained refusals."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.routing import OwnerLink, RoutingPlan, SequenceTarget
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.directory import User
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.outreach.upsert import Upserter
from leadgate.store.memory import MemoryStore
from tests.outreach.client.helpers import make_lead, upserter_for
from tests.plugins.sandbox import SandboxHandle

REPS = OwnerLink(via="rotation", users=("alice", "bob"), rotation="test:reps")
DEMO = SequenceTarget(name="Inbound Demo Request")
PLAN = RoutingPlan(rule="paid", owner=(REPS,), sequence=DEMO, stage="Inbound")


def calls(exchanges: ExchangeRecorder) -> list[str]:
    """``METHOD /path status`` of each request."""
    return [f"{e.method} {e.path.partition('?')[0]} {e.status}" for e in exchanges]


def lead(email: str, plan: RoutingPlan = PLAN, **overrides: Any) -> Any:
    """A free-mail lead (no account requests) with a routing plan."""
    return make_lead(email, account=None, routing=plan, **overrides)


async def states(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """Every sequenceState the sandbox holds."""
    return await sandbox.listing("sequenceStates")


def rel(resource: dict[str, Any], name: str) -> int | None:
    """A related id of a rendered resource."""
    data = resource["relationships"][name]["data"]
    return None if data is None else int(data["id"])


async def routed(upserter: Upserter, email: str, plan: RoutingPlan = PLAN) -> DeliveryResult:
    """Upsert one routed lead, failing the test on any error."""
    return await upserter.upsert(lead(email, plan), ExchangeRecorder())


async def test_new_lead_costs_lookup_create_enrol_once_cached(sandbox: SandboxHandle) -> None:
    """The first lead also pays the directory look-ups; the next ones cost exactly 3 requests,
    with owner and stage inside the create and the owner's mailbox on the state."""
    first: ExchangeRecorder = ExchangeRecorder()
    second: ExchangeRecorder = ExchangeRecorder()
    third: ExchangeRecorder = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        one = await upserter.upsert(lead("ada@gmail.com"), first)
        two = await upserter.upsert(lead("bea@gmail.com"), second)
        three = await upserter.upsert(lead("cy@gmail.com"), third)
    assert calls(first) == [
        "GET /api/v2/prospects 200",
        "GET /api/v2/users 200",
        "GET /api/v2/stages 200",
        "POST /api/v2/prospects 201",
        "GET /api/v2/sequences 200",
        "GET /api/v2/mailboxes 200",
        "POST /api/v2/sequenceStates 201",
    ]
    assert calls(second)[-2] == "GET /api/v2/mailboxes 200"  # bob's mailbox, once
    assert calls(third) == [
        "GET /api/v2/prospects 200",
        "POST /api/v2/prospects 201",
        "POST /api/v2/sequenceStates 201",
    ]
    prospects = {p["id"]: p for p in await sandbox.prospects()}
    owners = [rel(prospects[r.prospect_id], "owner") for r in (one, two, three)]
    assert owners == [2, 3, 2]  # alice, bob, alice
    assert all(rel(p, "stage") == 2 for p in prospects.values())
    held = await states(sandbox)
    assert len(held) == 3
    for state in held:
        owner = rel(prospects[rel(state, "prospect")], "owner")
        assert rel(state, "mailbox") == owner  # mailbox n belongs to user n
        assert rel(state, "sequence") == 1
    assert one.routing is not None
    assert one.routing.enrolment == "enrolled"


async def test_redelivery_costs_nothing_and_enrols_once(sandbox: SandboxHandle) -> None:
    """The same lead again finds everything remembered: no request, still one state."""
    store = MemoryStore()
    again: ExchangeRecorder = ExchangeRecorder()
    async with upserter_for(sandbox.url, store) as (_, upserter):
        await routed(upserter, "ada@gmail.com")
        result = await upserter.upsert(lead("ada@gmail.com"), again)
    assert len(again) == 0
    assert result.routing is not None
    assert result.routing.enrolment == "already_enrolled"
    assert len(await states(sandbox)) == 1


async def test_enrolled_elsewhere_is_a_422_that_counts_as_done(sandbox: SandboxHandle) -> None:
    """A prospect someone else enrolled (a rep by hand, another tool) meets Outreach's 422 'has
    already been in this sequence': counted as done, remembered, nothing re-posted."""
    exchanges: ExchangeRecorder = ExchangeRecorder()

    async def alice() -> User | None:
        return User(2)

    async with upserter_for(sandbox.url, MemoryStore()) as (client, upserter):
        prospect = {"data": {"type": "prospect", "attributes": {"emails": ["ada@gmail.com"]}}}
        created = await client.request(
            "POST", "/api/v2/prospects", ExchangeRecorder(), document=prospect
        )
        pid = int(created.data["id"])
        links = {
            "prospect": {"data": {"type": "prospect", "id": pid}},
            "sequence": {"data": {"type": "sequence", "id": 1}},
            "mailbox": {"data": {"type": "mailbox", "id": 3}},
        }
        by_hand = {"data": {"type": "sequenceState", "relationships": links}}
        await client.request("POST", "/api/v2/sequenceStates", ExchangeRecorder(), document=by_hand)
        done = await upserter.router.enroller.enrol(pid, DEMO, alice, new=True, exchanges=exchanges)
        again = await upserter.router.enroller.enrol(
            pid, DEMO, alice, new=True, exchanges=ExchangeRecorder()
        )
    assert calls(exchanges)[-2:] == [
        "POST /api/v2/sequenceStates 422",
        "GET /api/v2/sequenceStates 200",
    ]
    assert done.action == again.action == "already_enrolled"
    assert done.sequence_state_id == 1
    assert done.mailbox_id == 3
    assert len(await states(sandbox)) == 1


async def test_lost_answer_to_the_enrolment_is_looked_up_not_reposted(
    sandbox: SandboxHandle,
) -> None:
    """The POST is carried out but its answer lost: the retry looks the state up first."""
    await sandbox.faults(lose_responses=1, path_prefix="/api/v2/sequenceStates", method="POST")
    retry: ExchangeRecorder = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(RetriableError):
            await routed(upserter, "ada@gmail.com")
        assert len(await states(sandbox)) == 1  # it happened
        result = await upserter.upsert(lead("ada@gmail.com"), retry)
    assert calls(retry) == ["GET /api/v2/sequenceStates 200"]
    assert result.routing is not None
    assert result.routing.enrolment == "already_enrolled"
    assert len(await states(sandbox)) == 1


async def test_lost_answer_to_the_create_still_enrols_the_new_prospect(
    sandbox: SandboxHandle,
) -> None:
    """The create happens but its answer is lost: the retry finds the prospect by lookup, still
    treats it as new (policy new), and enrols it once from the owner given at create."""
    await sandbox.faults(lose_responses=1, path_prefix="/api/v2/prospects", method="POST")
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(RetriableError):
            await routed(upserter, "ada@gmail.com")
        result = await routed(upserter, "ada@gmail.com")
    assert result.action != "created"
    assert result.routing is not None
    assert result.routing.enrolment == "enrolled"
    (prospect,) = await sandbox.prospects()
    (state,) = await states(sandbox)
    assert rel(state, "mailbox") == rel(prospect, "owner") == 2


async def test_existing_prospect_is_skipped_by_policy_new(sandbox: SandboxHandle) -> None:
    """A prospect that existed before the lead is not enrolled under enrol: new."""
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead("ada@gmail.com", account=None), ExchangeRecorder())
        result = await routed(upserter, "ada@gmail.com")
    assert result.routing is not None
    assert result.routing.enrolment == "skipped_policy"
    assert await states(sandbox) == []
    (prospect,) = await sandbox.prospects()
    assert rel(prospect, "owner") is None  # an existing prospect keeps its owner


async def test_policy_idle_enrols_an_existing_prospect_not_in_a_sequence(
    sandbox: SandboxHandle,
) -> None:
    """enrol: idle enrols an existing prospect from a named mailbox, unless it is active
    elsewhere."""
    named = DEMO.model_copy(update={"enrol": "idle", "mailbox": "bob@sandbox.invalid"})
    idle = RoutingPlan(rule="idle", sequence=named)
    nurture = RoutingPlan(
        rule="n", sequence=SequenceTarget(name="Newsletter Nurture", mailbox="bob@sandbox.invalid")
    )
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead("ada@gmail.com", account=None), ExchangeRecorder())
        first = await routed(upserter, "ada@gmail.com", idle)
        await routed(upserter, "bea@gmail.com", nurture)  # new: enrolled in Nurture
        busy = await routed(upserter, "bea@gmail.com", idle)
    assert first.routing is not None
    assert first.routing.enrolment == "enrolled"
    assert busy.routing is not None
    assert busy.routing.enrolment == "skipped_policy"
    assert [rel(s, "mailbox") for s in await states(sandbox)] == [3, 3]


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        (RoutingPlan(rule="old", owner=(REPS,), sequence=SequenceTarget(name="Old Campaign")),
         "sequence_disabled"),
        (RoutingPlan(rule="x", owner=(REPS,), sequence=SequenceTarget(name="No Such")),
         "sequence_not_found"),
        (RoutingPlan(rule="m", sequence=SequenceTarget(name="Inbound Demo Request",
                                                       mailbox="nobody@sandbox.invalid")),
         "mailbox_missing"),
        (RoutingPlan(rule="o", owner=(OwnerLink(via="user", user="carol"),), sequence=DEMO),
         "mailbox_missing"),
    ],
)  # fmt: skip
async def test_refusals_are_permanent_and_explained(
    sandbox: SandboxHandle, plan: RoutingPlan, reason: str
) -> None:
    """Disabled or unknown sequence, missing mailbox: a permanent error with its reason; the
    prospect itself is written."""
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(PermanentError) as info:
            await routed(upserter, "ada@gmail.com", plan)
    assert info.value.reason == reason
    assert info.value.message
    assert len(await sandbox.prospects()) == 1
    assert await states(sandbox) == []


async def test_unknown_owner_leaves_the_owner_blank_and_says_so(sandbox: SandboxHandle) -> None:
    """A chain whose users Outreach does not know creates the prospect without owner, and the
    trace names the unknown user; the next link of a chain wins when it resolves."""
    blank = RoutingPlan(rule="b", owner=(OwnerLink(via="user", user="carol"),), stage="Nope")
    chain = RoutingPlan(
        rule="c",
        owner=(
            OwnerLink(via="field", field="properties.rep", user=None),
            OwnerLink(via="user", user="carol@sandbox.invalid"),
            OwnerLink(via="user", user="bob@sandbox.invalid"),
        ),
    )
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        one = await routed(upserter, "ada@gmail.com", blank)
        two = await routed(upserter, "bea@gmail.com", chain)
    assert one.routing is not None
    assert one.routing.owner_id is None
    lines = {s.stage: s for s in one.routing.stages}
    assert lines["owner"].reason == "unknown_owner"
    assert "'carol'" in (lines["owner"].detail or "")
    assert lines["prospect stage"].reason == "unknown_stage"
    assert two.routing is not None
    assert two.routing.owner_id == 3
    owner_line = next(s for s in two.routing.stages if s.stage == "owner")
    assert owner_line.detail is not None
    assert "by user bob@sandbox.invalid" in owner_line.detail
    assert "field properties.rep is empty" in owner_line.detail


async def test_update_owner_reassigns_an_existing_prospect_once(sandbox: SandboxHandle) -> None:
    """update_owner moves an existing prospect to the rule's owner; the same lead again sends
    nothing."""
    plan = RoutingPlan(rule="u", owner=(OwnerLink(via="user", user="bob"),), update_owner=True)
    again: ExchangeRecorder = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead("ada@gmail.com", account=None), ExchangeRecorder())
        moved = await routed(upserter, "ada@gmail.com", plan)
        await upserter.upsert(lead("ada@gmail.com", plan), again)
    assert moved.action == "updated"
    (prospect,) = await sandbox.prospects()
    assert rel(prospect, "owner") == 3
    assert len(again) == 0


async def test_directory_lookups_are_cached_hits_and_misses(sandbox: SandboxHandle) -> None:
    """A known user and an unknown one are each looked up once for many leads (a miss is
    cached too), and the cache lives in the state store, so a second worker on it asks
    nothing."""
    plan = RoutingPlan(
        rule="c",
        owner=(OwnerLink(via="user", user="carol"), OwnerLink(via="user", user="bob")),
        stage="Qualified",
    )
    store = MemoryStore()
    async with upserter_for(sandbox.url, store) as (_, upserter):
        for n in range(4):
            await routed(upserter, f"lead{n}@gmail.com", plan)
    async with upserter_for(sandbox.url, store) as (_, other):
        await routed(other, "lead9@gmail.com", plan)
    looked_up = [
        r["path"] + "?" + "&".join(f"{k}={v}" for k, v in r["query"].items() if "filter" in k)
        for r in await sandbox.api_requests()
        if r["method"] == "GET" and r["path"] in ("/api/v2/users", "/api/v2/stages")
    ]
    assert sorted(looked_up) == [
        "/api/v2/stages?filter[name]=Qualified",
        "/api/v2/users?filter[username]=bob",
        "/api/v2/users?filter[username]=carol",
    ]
    assert {rel(p, "owner") for p in await sandbox.prospects()} == {3}


async def test_a_retried_create_keeps_its_owner_and_the_rotation_turns_once(
    sandbox: SandboxHandle,
) -> None:
    """A create that fails (503) and is retried keeps the owner the first attempt chose, so
    the next new lead gets the other rep."""
    await sandbox.faults(status=503, count=1, path_prefix="/api/v2/prospects", method="POST")
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(RetriableError):
            await routed(upserter, "ada@gmail.com")
        first = await routed(upserter, "ada@gmail.com")
        second = await routed(upserter, "bea@gmail.com")
    assert first.routing is not None
    assert second.routing is not None
    assert (first.routing.owner_id, second.routing.owner_id) == (2, 3)  # alice, then bob
    posts = [
        r["body"]["data"]["relationships"]["owner"]["data"]["id"]
        for r in await sandbox.api_requests()
        if r["method"] == "POST" and r["path"] == "/api/v2/prospects"
    ]
    assert posts == [2, 2, 3]  # the failed create and its retry both for alice
    (state_a, state_b) = await states(sandbox)
    assert (rel(state_a, "mailbox"), rel(state_b, "mailbox")) == (2, 3)
