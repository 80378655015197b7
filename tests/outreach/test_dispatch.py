"""The dispatcher: an intent's kind picks its handler; an unknown kind is a permanent failure."""

from __future__ import annotations

import pytest

from leadgate.domain.lead import LeadIntent
from leadgate.domain.trace import ExchangeRecorder, VendorExchange
from leadgate.errors import PermanentError
from leadgate.outreach.dispatch import DeliveryResult, Dispatcher


def _intent(kind: str = "upsert_prospect") -> LeadIntent:
    return LeadIntent.model_validate({"kind": kind, "email": "ada@acme.example", "attributes": {}})


async def _withdraw(intent: LeadIntent, exchanges: ExchangeRecorder) -> DeliveryResult:
    exchanges.record(VendorExchange("PATCH", "/api/v2/prospects/7", 200, 1.0, attempt=1))
    return DeliveryResult("prospect", 7, "opted_out", notes=("opted out of email",))


async def test_the_kind_picks_the_handler_and_the_recorder_is_passed_on() -> None:
    """A consent_withdrawn intent reaches the handler registered for that kind, with the
    caller's recorder, and its result comes back unchanged."""
    dispatcher = Dispatcher()
    dispatcher.register("consent_withdrawn", _withdraw)
    recorder = ExchangeRecorder(attempt=3)
    result = await dispatcher.deliver(_intent("consent_withdrawn"), recorder)
    assert (result.prospect_id, result.action, result.notes) == (
        7,
        "opted_out",
        ("opted out of email",),
    )
    assert [(e.method, e.attempt) for e in recorder] == [("PATCH", 3)]


async def test_a_kind_without_a_handler_is_a_permanent_unsupported_kind() -> None:
    """An intent no handler delivers fails permanently as unsupported_kind (dead-lettered)."""
    dispatcher = Dispatcher({"consent_withdrawn": _withdraw})
    with pytest.raises(PermanentError) as caught:
        await dispatcher.deliver(_intent("upsert_opportunity"), ExchangeRecorder())
    assert caught.value.reason == "unsupported_kind"
    assert "upsert_opportunity" in caught.value.message


def test_a_kind_registers_once() -> None:
    """Registering a second handler for one kind is refused (two writers would be ambiguous)."""
    dispatcher = Dispatcher({"consent_withdrawn": _withdraw})
    with pytest.raises(ValueError, match="consent_withdrawn"):
        dispatcher.register("consent_withdrawn", _withdraw)


def test_old_lead_records_decode_as_prospect_upserts() -> None:
    """A version-1 record (no kind) decodes as an upsert_prospect intent."""
    raw = b'{"schema_version": 1, "email": "ada@acme.example", "attributes": {}}'
    assert LeadIntent.from_bytes(raw).kind == "upsert_prospect"


def test_a_non_prospect_result_has_no_prospect_id() -> None:
    """The trace's prospectId is only filled when the record written is a prospect."""
    result = DeliveryResult("opportunity", 42, "created").noted("stage: Discovery")
    assert result.prospect_id is None
    assert result.to_json() == {
        "recordType": "opportunity",
        "recordId": 42,
        "action": "created",
        "accountId": None,
        "notes": ["stage: Discovery"],
    }
