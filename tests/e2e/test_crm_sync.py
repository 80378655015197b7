"""Issue 14's done-when through the stream with presets/crm-sync.yaml: a flagged person becomes a
prospect owned by alice, an unflagged one nothing; an opportunity for that person gets its stage,
owner and one role, and a new amount updates the same opportunity; every finished record has one
outcome with the Outreach id and URL on leadgate.outcomes, and the signed callback delivers them."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import orjson
from pydantic import SecretStr

from leadgate.kafka.deadletter_replay import replay
from leadgate.runtime.services import started_producer
from tests.e2e.conftest import MakePipeline
from tests.plugins.callbacks import SECRET, CallbackReceiver
from tests.plugins.streams import REPO, produce_events, read_topic, wait_for
from tests.sandbox.api import Api, token_request

CRM = REPO / "presets" / "crm-sync.yaml"


def person(flag: bool, email: str, user: str) -> dict[str, Any]:
    """A CRM person as the collector produces it (source workbooks)."""
    return {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "traits": {"email": email, "firstName": "Jane", "syncToOutreach": flag,
                   "assignedTo": "alice"},
        "context": {"leadgate": {"source": "workbooks"}},
        "receivedAt": "2026-11-30T16:00:00.000Z",
    }  # fmt: skip


def opportunity(amount: int) -> dict[str, Any]:
    """OPP-1 for jane, stage Negotiation, owner alice, Jane as Decision Maker."""
    record = {
        "id": "OPP-1",
        "name": "Acme renewal",
        "amount": amount,
        "currency": "EUR",
        "closeDate": "2026-12-31",
        "stage": "Negotiation",
        "owner": "alice",
        "accountDomain": "acmecorp.io",
        "contacts": [{"email": "jane@acmecorp.io", "role": "Decision Maker", "primary": True}],
    }
    return {
        "type": "track",
        "event": "Opportunity Updated",
        "messageId": str(uuid.uuid4()),
        "userId": "P-1",
        "properties": {"opportunity": record},
        "context": {"leadgate": {"source": "workbooks"}},
        "receivedAt": "2026-11-30T16:00:01.000Z",
    }


async def test_crm_people_and_opportunities_with_outcomes(
    make_pipeline: MakePipeline, callback_receiver: CallbackReceiver
) -> None:
    """The done-when of issue 14, end to end, outcomes and callbacks included."""
    pipeline = await make_pipeline(
        presets=(CRM,),
        outcomes={"callback_url": callback_receiver.url, "callback_secret": SecretStr(SECRET),
                  "callback_backoff_base_s": 0.05},
    )  # fmt: skip
    kafka = pipeline.settings.kafka
    sandbox = pipeline.sandbox
    flagged, unflagged = (
        person(True, "jane@acmecorp.io", "P-1"),
        person(False, "bob@acmecorp.io", "P-2"),
    )
    await produce_events(kafka.bootstrap_servers, kafka.events_topic, [flagged, unflagged])

    async def outcomes(count: int) -> list[dict[str, Any]]:
        found = await read_topic(kafka.bootstrap_servers, kafka.outcomes_topic)
        return [orjson.loads(r.value) for r in found] if len(found) >= count else []

    async def have(count: int) -> bool:
        return bool(await outcomes(count))

    await wait_for(lambda: have(1), timeout_s=45)
    (prospect,) = await sandbox.prospects()
    users = {u["attributes"].get("username"): u["id"] for u in await sandbox.users()}
    assert prospect["attributes"]["emails"] == ["jane@acmecorp.io"]
    assert prospect["relationships"]["owner"]["data"]["id"] == users["alice"]

    first = opportunity(5000)
    await produce_events(kafka.bootstrap_servers, kafka.events_topic, [first])
    await wait_for(lambda: have(2), timeout_s=45)
    second = opportunity(7500)
    await produce_events(kafka.bootstrap_servers, kafka.events_topic, [second])
    await wait_for(lambda: have(3), timeout_s=45)

    (stored,) = await sandbox.records("opportunities")
    stages = {s["attributes"]["name"]: s["id"] for s in await sandbox.records("opportunityStages")}
    assert stored["attributes"]["amount"] == 7500
    assert stored["relationships"]["opportunityStage"]["data"]["id"] == stages["Negotiation"]
    assert stored["relationships"]["owner"]["data"]["id"] == users["alice"]
    (role,) = await sandbox.records("opportunityProspectRoles")
    assert role["attributes"]["role"] == "Decision Maker"
    assert role["relationships"]["prospect"]["data"]["id"] == prospect["id"]
    assert role["relationships"]["opportunity"]["data"]["id"] == stored["id"]

    written = await outcomes(3)
    by_message = {o["messageId"]: o for o in written}
    assert Counter(o["messageId"] for o in written) == Counter(
        {flagged["messageId"]: 1, first["messageId"]: 1, second["messageId"]: 1}
    )
    person_outcome = by_message[flagged["messageId"]]
    assert person_outcome["source"] == {"system": "workbooks", "type": "person", "id": "P-1"}
    assert (person_outcome["status"], person_outcome["action"]) == ("ok", "created")
    assert person_outcome["outreach"]["id"] == prospect["id"]
    assert person_outcome["outreach"]["url"].endswith(f"/prospects/{prospect['id']}/overview")
    assert [by_message[m["messageId"]]["action"] for m in (first, second)] == ["created", "updated"]
    assert {by_message[m["messageId"]]["outreach"]["id"] for m in (first, second)} == {stored["id"]}
    records = await read_topic(kafka.bootstrap_servers, kafka.outcomes_topic)
    assert {bytes(r.key).decode() for r in records} == {
        "workbooks:person:P-1", "workbooks:opportunity:OPP-1"
    }  # fmt: skip

    async def called_back() -> bool:
        return len(callback_receiver.verified()) >= 3

    await wait_for(called_back, timeout_s=30)
    assert {r.json["id"] for r in callback_receiver.verified()} == {o["id"] for o in written}


async def test_a_fixed_record_replayed_from_the_dead_letters_gets_a_fresh_outcome(
    make_pipeline: MakePipeline,
) -> None:
    """An opportunity whose stage Outreach lacks is dead-lettered with a failed outcome that says
    what to do; once the stage exists, ``dlq replay`` delivers it and a fresh outcome follows."""
    pipeline = await make_pipeline(presets=(CRM,))
    kafka = pipeline.settings.kafka
    record = opportunity(5000)
    record["properties"]["opportunity"]["stage"] = "Proposal"
    await produce_events(kafka.bootstrap_servers, kafka.events_topic, [record])

    async def outcomes() -> list[dict[str, Any]]:
        found = await read_topic(kafka.bootstrap_servers, kafka.outcomes_topic)
        return [orjson.loads(r.value) for r in found]

    async def count(n: int) -> bool:
        return len(await outcomes()) >= n

    await wait_for(lambda: count(1), timeout_s=45)
    (failed,) = await outcomes()
    assert (failed["status"], failed["action"], failed["reason"]) == (
        "failed", "dead_lettered", "unknown_stage"
    )  # fmt: skip
    assert "create it in Outreach" in failed["message"]
    assert failed["outreach"] == {"type": None, "id": None, "url": None}
    refresh = await pipeline.sandbox.issue_refresh_token(*pipeline.sandbox.config.scopes)
    _, token, _ = await token_request(
        pipeline.sandbox, grant_type="refresh_token", refresh_token=refresh
    )
    made = await Api(pipeline.sandbox, str(token["access_token"])).create(
        "opportunityStages", {"name": "Proposal", "order": 6, "isClosed": False}
    )
    assert made.status == 201  # a person creates the stage in Outreach
    async with started_producer(pipeline.settings) as producer:
        result = await replay(producer, kafka, reason="unknown_stage")
    assert result.replayed == 1
    await wait_for(lambda: count(2), timeout_s=45)
    fresh = (await outcomes())[-1]
    assert (fresh["status"], fresh["action"]) == ("ok", "created")
    assert fresh["id"] != failed["id"]
    assert fresh["messageId"] == failed["messageId"] == record["messageId"]
