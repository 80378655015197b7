"""CRM records through process() with presets/crm-sync.yaml: people sync only when their flag
holds, with the owner's username from the record; opportunities become upsert_opportunity
intents keyed by their source; malformed records drop as invalid_record with a trace line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.presets import Preset, load_preset
from leadgate.pipeline.process import process

PRESET = Path(__file__).resolve().parents[2] / "presets" / "crm-sync.yaml"


@pytest.fixture(scope="module")
def crm() -> Preset:
    """The shipped CRM sync preset."""
    return load_preset(PRESET)


def person(**traits: Any) -> bytes:
    """An identify of CRM person P-1 from the ``workbooks`` source with ``traits``."""
    event = {
        "type": "identify",
        "messageId": "m-person",
        "userId": "P-1",
        "traits": {"email": "Jane.Doe@Acme.com", "firstName": "Jane", **traits},
        "context": {"leadgate": {"source": "workbooks"}},
    }
    return orjson.dumps(event)


def opportunity(**fields: Any) -> bytes:
    """An ``Opportunity Updated`` of OPP-1 from ``workbooks`` with ``fields`` over a valid one."""
    record = {
        "id": "OPP-1",
        "name": "Acme renewal",
        "stage": "Negotiation",
        "owner": "alice",
        "contacts": [{"email": "jane.doe@acme.com", "role": "Decision Maker", "primary": True}],
        **fields,
    }
    event = {
        "type": "track",
        "event": "Opportunity Updated",
        "messageId": "m-opp",
        "userId": "crm",
        "properties": {"opportunity": record},
        "context": {"leadgate": {"source": "workbooks"}},
    }
    return orjson.dumps(event)


def test_a_flagged_person_becomes_a_prospect_intent_with_owner_and_source(crm: Preset) -> None:
    """syncToOutreach true: an upsert_prospect intent, owner read from assignedTo, on_existing
    skip, the source record named for its outcome, keyed by the email."""
    outcome = process(person(syncToOutreach=True, assignedTo="alice"), Profile(), crm)
    lead = outcome.lead
    assert lead is not None
    assert lead.kind == "upsert_prospect"
    assert lead.key == lead.email == "jane.doe@acme.com"
    assert lead.on_existing == "skip"
    assert lead.source is not None
    assert lead.source.key == "workbooks:person:P-1"
    assert lead.routing is not None
    (owner,) = lead.routing.owner
    assert (owner.via, owner.user) == ("field", "alice")
    assert outcome.profile is not None
    assert outcome.profile.traits["assignedTo"] == "alice"


@pytest.mark.parametrize(
    ("traits", "reason", "detail"),
    [
        ({"syncToOutreach": False}, DropReason.CONDITION_NOT_MET, "syncToOutreach is False"),
        ({}, DropReason.CONDITION_NOT_MET, "syncToOutreach"),
        ({"syncToOutreach": "true"}, DropReason.INVALID_RECORD,
         "traits.syncToOutreach must be true or false, not text"),
    ],
)  # fmt: skip
def test_an_unflagged_or_malformed_person_is_dropped(
    crm: Preset, traits: dict[str, Any], reason: DropReason, detail: str
) -> None:
    """No flag or a false one: condition_not_met; a flag that is not a boolean: invalid_record."""
    outcome = process(person(**traits), Profile(), crm)
    assert outcome.lead is None
    assert outcome.drop is reason
    assert outcome.detail is not None
    assert detail in outcome.detail
    assert "jane" not in outcome.detail.lower()


def test_an_opportunity_becomes_an_upsert_opportunity_intent(crm: Preset) -> None:
    """The checked record rides on the intent, keyed opportunity:<system>:<id>, no email."""
    outcome = process(opportunity(), Profile(), crm)
    lead = outcome.lead
    assert lead is not None
    assert lead.kind == "upsert_opportunity"
    assert lead.key == "opportunity:workbooks:OPP-1"
    assert lead.email == ""
    assert lead.opportunity is not None
    assert lead.opportunity.stage == "Negotiation"
    assert lead.source is not None
    assert lead.source.key == "workbooks:opportunity:OPP-1"
    assert lead.message_ids == ("m-opp",)
    assert outcome.stages[-1].stage == "record"
    assert lead.document()["data"]["attributes"]["customId"] == "workbooks:OPP-1"


def test_a_malformed_opportunity_drops_as_invalid_record(crm: Preset) -> None:
    """A bad amount: invalid_record, with the record stage in the trace naming the field."""
    outcome = process(opportunity(amount="1,000"), Profile(), crm)
    assert outcome.lead is None
    assert outcome.drop is DropReason.INVALID_RECORD
    assert (outcome.stages[-1].stage, str(outcome.stages[-1].status)) == ("record", "drop")
    assert outcome.detail == "opportunity.amount must be a plain number such as 5000 or 5000.50"


def test_a_record_without_a_source_name_is_from_the_default_system(crm: Preset) -> None:
    """Without context.leadgate.source (a file sent without --source) the system is 'crm'."""
    event = orjson.loads(opportunity())
    del event["context"]
    lead = process(orjson.dumps(event), Profile(), crm).lead
    assert lead is not None
    assert lead.key == "opportunity:crm:OPP-1"
