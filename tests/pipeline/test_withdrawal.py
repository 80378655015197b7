"""Consent withdrawal in the pure pipeline: any event (page, identify, mapped or unmapped track)
that takes a required category away from a person with a known email becomes a
``consent_withdrawn`` intent keyed by that email; the preset's ``on_consent_withdrawn`` decides
what it asks of Outreach; a later grant sends nothing and the trace says so."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from leadgate.domain.lead import LeadIntent
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.process import process
from tests.plugins.events import EventFactory

JANE = {"email": "Jane.Doe@Acme.com", "firstName": "Jane"}
GRANTED = Profile(traits=JANE, consent={"marketing": True})
WITHDRAW = {"consent": {"categories": {"marketing": False}}}


def _record(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


@pytest.mark.parametrize("kind", ["page", "identify", "track", "unmapped track"])
def test_every_kind_of_event_can_withdraw(
    lead_capture: Preset,
    make_page: EventFactory,
    make_identify: EventFactory,
    make_track: EventFactory,
    kind: str,
) -> None:
    """A page, an identify, a mapped and an unmapped track carrying marketing false each yield a
    consent_withdrawn intent for the normalised email, with the event's own drop kept."""
    event = {
        "page": lambda: make_page(context=WITHDRAW),
        "identify": lambda: make_identify(context=WITHDRAW, traits={}),
        "track": lambda: make_track(context=WITHDRAW),
        "unmapped track": lambda: make_track(event="Video Played", context=WITHDRAW),
    }[kind]()
    outcome = process(_record(event), GRANTED, lead_capture)
    intent = outcome.lead
    assert intent is not None
    assert intent.kind == "consent_withdrawn"
    assert intent.email == "jane.doe@acme.com"
    assert intent.withdrawal is not None
    assert intent.withdrawal.categories == ("marketing",)
    assert intent.withdrawal.action == "both"
    assert intent.required_consent == ()  # nothing for delivery's consent re-check to refuse
    assert intent.message_ids == (event["messageId"],)
    assert outcome.drop is not None  # the event itself still did not become a lead
    assert outcome.stages[-1].stage == "withdrawal"
    assert outcome.trace_json()["outcome"] == "pending"
    assert outcome.trace_json()["document"] == {
        "data": {"type": "prospect", "attributes": {"emailsOptStatus": "opted_out"}}
    }
    assert LeadIntent.from_bytes(intent.to_bytes()) == intent


def test_no_withdrawal_without_a_grant_before(
    lead_capture: Preset, make_page: EventFactory
) -> None:
    """Marketing false on a visitor who never granted it is no withdrawal: nothing is sent."""
    outcome = process(_record(make_page(context=WITHDRAW)), Profile(traits=JANE), lead_capture)
    assert outcome.lead is None
    assert outcome.drop is DropReason.UNMAPPED_EVENT


def test_no_email_means_nothing_to_tell_outreach(
    lead_capture: Preset, make_page: EventFactory
) -> None:
    """A withdrawal from an anonymous visitor (no email known) is traced, not sent."""
    anonymous = Profile(consent={"marketing": True})
    outcome = process(_record(make_page(context=WITHDRAW)), anonymous, lead_capture)
    assert outcome.lead is None
    assert outcome.stages[-1].stage == "withdrawal"
    assert "no email" in (outcome.stages[-1].detail or "")


@pytest.mark.parametrize(
    ("setting", "opts_out", "finishes"),
    [("opt_out", True, False), ("finish_sequences", False, True), ("both", True, True)],
)
def test_the_preset_decides_what_the_withdrawal_asks(
    lead_capture: Preset, make_page: EventFactory, setting: str, opts_out: bool, finishes: bool
) -> None:
    """on_consent_withdrawn opt_out / finish_sequences / both is carried on the intent."""
    preset = lead_capture.model_copy(update={"on_consent_withdrawn": setting})
    outcome = process(_record(make_page(context=WITHDRAW)), GRANTED, preset)
    assert outcome.lead is not None
    assert outcome.lead.withdrawal is not None
    assert outcome.lead.withdrawal.opts_out is opts_out
    assert outcome.lead.withdrawal.finishes_sequences is finishes


def test_nothing_leaves_outreach_alone_and_says_so(
    lead_capture: Preset, make_page: EventFactory
) -> None:
    """on_consent_withdrawn: nothing sends no intent; the trace names the setting."""
    preset = lead_capture.model_copy(update={"on_consent_withdrawn": "nothing"})
    outcome = process(_record(make_page(context=WITHDRAW)), GRANTED, preset)
    assert outcome.lead is None
    assert "on_consent_withdrawn: nothing" in (outcome.stages[-1].detail or "")


def test_a_later_grant_does_not_opt_back_in_and_the_trace_says_so(
    lead_capture: Preset, make_track: EventFactory
) -> None:
    """After a withdrawal, a demo request granting marketing again is an ordinary upsert (no
    opt-in is sent) and its trace explains that Outreach's opt-out stands."""
    withdrawn = Profile(traits=JANE, consent={"marketing": False})
    event = make_track(context={"consent": {"categories": {"marketing": True}}})
    outcome = process(_record(event), withdrawn, lead_capture)
    assert outcome.lead is not None
    assert outcome.lead.kind == "upsert_prospect"
    assert "emailsOptStatus" not in outcome.lead.attributes
    note = outcome.stages[-1]
    assert note.stage == "withdrawal"
    assert note.detail is not None
    assert "stays until a person changes it there" in note.detail


def test_an_unchanged_consent_costs_no_withdrawal_check(
    lead_capture: Preset, make_page: EventFactory
) -> None:
    """A page repeating the consent the profile holds changes nothing and sends nothing."""
    event = make_page(context={"consent": {"categories": {"marketing": True}}})
    outcome = process(_record(event), GRANTED, lead_capture)
    assert outcome.lead is None
    assert outcome.profile is None


@pytest.mark.parametrize("kind", ["page", "identify", "track"])
def test_a_bug_in_the_withdrawal_check_keeps_the_events_own_outcome(
    lead_capture: Preset,
    make_page: EventFactory,
    make_identify: EventFactory,
    make_track: EventFactory,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """If the withdrawal check raises, the event keeps its verdict and its profile update (the
    new consent is still remembered) and its trace ends with a warning naming the error."""

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("leadgate.pipeline.process.consent_change", broken)
    event = {
        "page": lambda: make_page(context=WITHDRAW),
        "identify": lambda: make_identify(context=WITHDRAW, traits={}),
        "track": lambda: make_track(context=WITHDRAW),
    }[kind]()
    outcome = process(_record(event), GRANTED, lead_capture)
    assert outcome.profile is not None
    assert outcome.profile.consent == {"marketing": False}
    assert outcome.drop is (DropReason.NO_CONSENT if kind == "track" else DropReason.UNMAPPED_EVENT)
    assert outcome.lead is None
    last = outcome.stages[-1]
    assert (last.stage, last.detail) == ("withdrawal", "unexpected RuntimeError")
