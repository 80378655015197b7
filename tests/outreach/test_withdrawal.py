"""The consent_withdrawn handler against the sandbox: opt-out and finished sequenceStates for
the prospect leadgate knows, per ``on_consent_withdrawn``; idempotent; nothing for a stranger;
a prospect or state gone from Outreach is noted, not retried."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from leadgate.domain.lead import LeadIntent, Withdrawal, WithdrawalAction
from leadgate.domain.trace import ExchangeRecorder
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.handlers import build_dispatcher
from leadgate.store.base import ProspectRecord
from leadgate.store.memory import MemoryStore
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, authed_with, enrol

JANE = "jane.doe@acme.com"


@pytest_asyncio.fixture
async def sandbox(make_sandbox: MakeSandbox) -> SandboxHandle:
    """A sandbox where the handler's client and the test's caller may both mint tokens."""
    return await make_sandbox(mint_interval_s=0.0)


async def _api(sandbox: SandboxHandle) -> Api:
    return await authed_with(sandbox, "prospects.all", "sequenceStates.all")


async def _enrolled_prospect(sandbox: SandboxHandle, store: MemoryStore) -> tuple[int, int]:
    """Jane in the sandbox, enrolled in sequence 1, known to leadgate like delivery leaves her."""
    api = await _api(sandbox)
    prospect = await api.create("prospects", {"emails": [JANE]})
    prospect_id: int = prospect.json["data"]["id"]
    state = await enrol(api, prospect_id)
    state_id: int = state.json["data"]["id"]
    await store.put_prospect(JANE, ProspectRecord(prospect_id, frozenset(), "h"))
    await store.put_docs(
        "enrolment",
        {f"{prospect_id}:1": {"sequenceStateId": state_id, "mailboxId": 1, "state": "active"}},
    )
    return prospect_id, state_id


def _withdrawal(action: WithdrawalAction = "both") -> LeadIntent:
    return LeadIntent(
        kind="consent_withdrawn",
        email=JANE,
        attributes={},
        message_ids=("m-1",),
        withdrawal=Withdrawal(categories=("marketing",), action=action),
    )


@pytest_asyncio.fixture
async def client(sandbox: SandboxHandle) -> AsyncIterator[tuple[OutreachClient, MemoryStore]]:
    """An Outreach client on the sandbox and the store it keeps its tokens in."""
    store = MemoryStore()
    async with OutreachClient(make_settings(sandbox.url), store) as made:
        yield made, store


async def _state(sandbox: SandboxHandle, state_id: int) -> str:
    api = await _api(sandbox)
    return str(
        (await api.get(f"/api/v2/sequenceStates/{state_id}")).json["data"]["attributes"]["state"]
    )


async def test_both_opts_out_and_finishes_and_repeats_harmlessly(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """The default (both) leaves the prospect opted out and its sequenceState finished, and the
    enrolment remembered as finished; delivering the same intent again changes nothing."""
    made, store = client
    prospect_id, state_id = await _enrolled_prospect(sandbox, store)
    dispatcher = build_dispatcher(made, store, made.settings)
    exchanges = ExchangeRecorder()
    result = await dispatcher.deliver(_withdrawal(), exchanges)
    assert (result.prospect_id, result.action) == (prospect_id, "opted_out")
    assert [f"{e.method} {e.path} {e.status}" for e in exchanges] == [
        f"PATCH /api/v2/prospects/{prospect_id} 200",
        f"POST /api/v2/sequenceStates/{state_id}/actions/finish 200",
    ]
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emailsOptStatus"] == "opted_out"
    assert prospect["attributes"]["emailsOptedAt"] is not None
    assert await _state(sandbox, state_id) == "finished"
    enrolment = await store.get_docs("enrolment", [f"{prospect_id}:1"])
    assert enrolment[f"{prospect_id}:1"]["state"] == "finished"
    again = await dispatcher.deliver(_withdrawal(), ExchangeRecorder())
    assert again.action == "opted_out"
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emailsOptStatus"] == "opted_out"


async def test_opt_out_alone_leaves_the_sequences_running(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """on_consent_withdrawn opt_out writes the opt-out and does not touch the sequenceState."""
    made, store = client
    _, state_id = await _enrolled_prospect(sandbox, store)
    result = await build_dispatcher(made, store, made.settings).deliver(
        _withdrawal("opt_out"), ExchangeRecorder()
    )
    assert result.action == "opted_out"
    assert await _state(sandbox, state_id) == "active"


async def test_finish_sequences_alone_leaves_the_opt_out_status(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """on_consent_withdrawn finish_sequences finishes the state and writes no opt-out."""
    made, store = client
    _, state_id = await _enrolled_prospect(sandbox, store)
    result = await build_dispatcher(made, store, made.settings).deliver(
        _withdrawal("finish_sequences"), ExchangeRecorder()
    )
    assert result.action == "sequences_finished"
    assert await _state(sandbox, state_id) == "finished"
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emailsOptStatus"] is None


async def test_a_person_without_a_known_prospect_costs_no_request(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """A withdrawal for an email leadgate knows no prospect for is delivered as unchanged,
    with a note, and sends nothing to Outreach."""
    made, store = client
    exchanges = ExchangeRecorder()
    result = await build_dispatcher(made, store, made.settings).deliver(_withdrawal(), exchanges)
    assert (result.action, result.prospect_id) == ("unchanged", None)
    assert "no Outreach prospect" in result.notes[0]
    assert len(exchanges) == 0


async def test_a_prospect_gone_from_outreach_is_noted_not_retried(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """When Outreach deleted the prospect and its states, both 404s become notes and the
    withdrawal is delivered (there is nothing left to email)."""
    made, store = client
    prospect_id, _ = await _enrolled_prospect(sandbox, store)
    api = await _api(sandbox)
    assert (await api.call("DELETE", f"/api/v2/prospects/{prospect_id}")).status == 204
    result = await build_dispatcher(made, store, made.settings).deliver(
        _withdrawal(), ExchangeRecorder()
    )
    assert result.action == "unchanged"
    assert any("gone from Outreach" in note for note in result.notes)


async def test_an_enrolment_whose_answer_was_lost_is_looked_up_and_finished(
    sandbox: SandboxHandle, client: tuple[OutreachClient, MemoryStore]
) -> None:
    """An enrolment still marked ``posting`` (its POST answer was lost) is found in Outreach by
    prospect and sequence, finished, and remembered with its id."""
    made, store = client
    prospect_id, state_id = await _enrolled_prospect(sandbox, store)
    key = f"{prospect_id}:1"
    await store.put_docs(
        "enrolment", {key: {"sequenceStateId": None, "mailboxId": 1, "state": "posting"}}
    )
    result = await build_dispatcher(made, store, made.settings).deliver(
        _withdrawal("finish_sequences"), ExchangeRecorder()
    )
    assert result.action == "sequences_finished"
    assert await _state(sandbox, state_id) == "finished"
    doc = (await store.get_docs("enrolment", [key]))[key]
    assert (doc["state"], doc["sequenceStateId"]) == ("finished", state_id)
