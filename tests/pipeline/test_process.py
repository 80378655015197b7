"""process(): stage order, drop reasons, profile updates, and never raising on any input."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.events import decode
from leadgate.domain.outcome import Outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.process import identities_of, process
from tests.plugins.events import EventFactory, consent, record

JANE = {"email": "Jane.Doe@Acme.com", "firstName": "Jane", "lastName": "Doe"}
KNOWN = Profile(traits=JANE, consent={"marketing": True})


def stages(outcome: Outcome) -> list[tuple[str, str]]:
    """(stage, status) pairs of a trace."""
    return [(stage.stage, str(stage.status)) for stage in outcome.stages]


def test_mapped_track_passes_every_stage(lead_capture: Preset, make_track: EventFactory) -> None:
    """A consented, identified Demo Requested runs all stages in order and becomes a lead."""
    outcome = process(record(make_track(userId="user-1")), KNOWN, lead_capture)
    assert outcome.sent
    assert outcome.drop is None
    assert stages(outcome) == [
        ("decode", "pass"),
        ("profile", "pass"),
        ("preset", "pass"),
        ("consent", "pass"),
        ("identity", "pass"),
        ("normalize", "pass"),
        ("mapping", "pass"),
    ]
    assert outcome.normalized["email"] == "jane.doe@acme.com"
    assert outcome.trace_json()["outcome"] == "pending"
    assert outcome.identities[0] == "user:user-1"


DROPS: list[tuple[str, dict[str, Any], Profile, DropReason, str]] = [
    ("unmapped track", {"event": "Video Played"}, KNOWN, DropReason.UNMAPPED_EVENT,
     "'Video Played' is not an event of preset 'Lead Capture'"),
    ("no consent anywhere", {}, Profile(traits=JANE), DropReason.NO_CONSENT,
     "not granted in the profile (none on the event): marketing"),
    ("consent false on event", {"context": {"consent": {"categories": {"marketing": False}}}},
     Profile(traits=JANE), DropReason.NO_CONSENT, "not granted in this event: marketing"),
    ("consent string true", {"context": {"consent": {"categories": {"marketing": "true"}}}},
     Profile(traits=JANE), DropReason.NO_CONSENT, "not granted in this event"),
    ("I1 no email", {}, Profile(consent={"marketing": True}), DropReason.NO_IDENTITY,
     "no email in the event"),
    ("I6 invalid email", {"context": {**consent("marketing"), "traits": {"email": "x@@y.com"}}},
     Profile(), DropReason.INVALID_EMAIL, "context.traits.email: an address needs exactly one @"),
    ("I3 display name only", {"properties": {"email": "Bob <b@x.com>"}},
     Profile(consent={"marketing": True}), DropReason.INVALID_EMAIL, "display-name forms"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "overrides", "snapshot", "reason", "detail"), DROPS, ids=[d[0] for d in DROPS]
)
def test_drops(
    lead_capture: Preset,
    make_track: EventFactory,
    case: str,
    overrides: dict[str, Any],
    snapshot: Profile,
    reason: DropReason,
    detail: str,
) -> None:
    """Each gate drops with its reason, a readable detail, and a final 'drop' stage."""
    outcome = process(record(make_track(**overrides)), snapshot, lead_capture)
    assert outcome.drop is reason
    assert outcome.detail is not None
    assert detail in outcome.detail
    assert outcome.stages[-1].status == "drop"
    assert outcome.stages[-1].reason == str(reason)
    assert outcome.trace_json()["outcome"] == "dropped"


def test_consent_on_event_beats_profile(lead_capture: Preset, make_track: EventFactory) -> None:
    """An event's own consent grant is enough even when the profile has none."""
    event = make_track(context={**consent("marketing"), "traits": {"email": "sam@acme.com"}})
    outcome = process(record(event), Profile(), lead_capture)
    assert outcome.sent
    assert outcome.profile is not None
    assert outcome.profile.consent == {"marketing": True}
    assert outcome.profile.traits == {"email": "sam@acme.com"}


def test_identify_remembers_and_drops(lead_capture: Preset, make_identify: EventFactory) -> None:
    """identify merges traits and consent into the profile, then drops as unmapped_event."""
    event = make_identify(context={**consent("marketing"), "traits": {"city": "London"}})
    outcome = process(record(event), Profile(traits={"company": "Acme"}), lead_capture)
    assert outcome.drop is DropReason.UNMAPPED_EVENT
    assert outcome.detail == (
        "identify: traits remembered; only mapped track events create prospects"
    )
    assert outcome.profile is not None
    assert outcome.profile.traits == {
        "company": "Acme",
        "city": "London",
        "email": "jane.doe@acme.com",
        "firstName": "Jane",
        "lastName": "Doe",
    }
    assert outcome.profile.consent == {"marketing": True}
    assert outcome.identities == ("user:user-123", f"anon:{event['anonymousId']}")


def test_identify_never_erases_known_traits(
    lead_capture: Preset, make_identify: EventFactory
) -> None:
    """An identify with empty traits leaves a known email and name in place."""
    event = make_identify(traits={"email": "", "firstName": None})
    outcome = process(record(event), KNOWN, lead_capture)
    assert outcome.profile is None


def test_page_with_revocation_updates_consent(
    lead_capture: Preset, make_page: EventFactory
) -> None:
    """A page view carrying a revocation updates the profile, so delivery can see it."""
    event = make_page(context={"consent": {"categoryPreferences": {"marketing": False}}})
    outcome = process(record(event), KNOWN, lead_capture)
    assert outcome.drop is DropReason.UNMAPPED_EVENT
    assert outcome.profile is not None
    assert outcome.profile.consent == {"marketing": False}
    assert outcome.profile.traits == KNOWN.traits


def test_page_without_consent_writes_nothing(lead_capture: Preset, make_page: EventFactory) -> None:
    """A plain page view changes no profile (the cheap path writes nothing back)."""
    outcome = process(record(make_page()), KNOWN, lead_capture)
    assert outcome.profile is None
    assert outcome.detail is not None
    assert "page views never create prospects" in outcome.detail


def test_bad_phone_is_a_warning_and_the_lead_still_goes(
    lead_capture: Preset, make_track: EventFactory
) -> None:
    """An unusable phone is dropped from the document with a warn stage; the lead is sent."""
    snapshot = Profile(traits={**JANE, "phone": "12"}, consent={"marketing": True})
    outcome = process(record(make_track()), snapshot, lead_capture)
    assert outcome.lead is not None
    assert "mobilePhones" not in outcome.lead.attributes
    assert ("normalize", "warn") in stages(outcome)


def test_default_region_parses_national_numbers(
    lead_capture: Preset, make_track: EventFactory
) -> None:
    """The configured default region turns a national number into E.164."""
    snapshot = Profile(traits={**JANE, "phone": "07700 900123"}, consent={"marketing": True})
    outcome = process(record(make_track()), snapshot, lead_capture, default_region="GB")
    assert outcome.lead is not None
    assert outcome.lead.attributes["mobilePhones"] == ["+447700900123"]


def test_malformed_record_has_no_identities(lead_capture: Preset) -> None:
    """A record that is not JSON drops as malformed at the decode stage."""
    outcome = process(b"\x00garbage", Profile(), lead_capture)
    assert outcome.drop is DropReason.MALFORMED
    assert stages(outcome) == [("decode", "drop")]
    assert identities_of(decode(b"\x00garbage")) == ()


def test_wrongly_typed_mapped_track_is_malformed(
    lead_capture: Preset, make_track: EventFactory
) -> None:
    """A mapped track whose context.traits is not an object drops as malformed."""
    outcome = process(record(make_track(timestamp=["x"])), KNOWN, lead_capture)
    assert outcome.drop is DropReason.MALFORMED
    assert outcome.detail is not None
    assert outcome.detail.startswith("timestamp")


def test_detail_and_trace_never_hold_the_email(
    lead_capture: Preset, make_track: EventFactory
) -> None:
    """Drop details name stages and sources, never the address itself."""
    event = make_track(context={**consent("marketing"), "traits": {"email": "secret@@acme.com"}})
    outcome = process(record(event), Profile(), lead_capture)
    assert "secret" not in orjson.dumps([s.to_json() for s in outcome.stages]).decode()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_EVENTISH = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "alias", "x"]) | _JSON},
    optional={
        "event": st.sampled_from(["Demo Requested", "Signed Up"]) | _JSON,
        "userId": st.text(max_size=5) | _JSON,
        "anonymousId": st.text(max_size=5),
        "messageId": _JSON,
        "traits": _JSON | st.fixed_dictionaries({"email": _JSON, "phone": _JSON}),
        "properties": _JSON,
        "context": _JSON
        | st.fixed_dictionaries(
            {"consent": _JSON | st.just({"categories": {"marketing": True}}), "traits": _JSON}
        ),
        "receivedAt": _JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_never_raises_on_arbitrary_bytes(lead_capture: Preset, raw: bytes) -> None:
    """Any bytes give an Outcome (mostly malformed), never an exception."""
    outcome = process(raw, KNOWN, lead_capture)
    assert outcome.sent or outcome.drop is not None
    assert not (outcome.detail or "").startswith("unexpected"), outcome.detail
    identities_of(decode(raw))


@settings(max_examples=200, deadline=None)
@given(_EVENTISH, st.sampled_from([Profile(), KNOWN]))
def test_never_raises_on_arbitrary_events(
    lead_capture: Preset, event: dict[str, Any], snapshot: Profile
) -> None:
    """Any event-shaped JSON gives an Outcome with a trace, never an exception."""
    outcome = process(json.dumps(event).encode(), snapshot, lead_capture)
    assert outcome.stages
    assert outcome.sent or outcome.drop is not None
    # the safety net in process() must never be what catches a generated input
    assert not (outcome.detail or "").startswith("unexpected"), outcome.detail
    orjson.dumps(outcome.trace_json())


def test_a_bug_in_a_stage_drops_the_event_instead_of_raising(
    lead_capture: Preset, make_track: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a stage raises unexpectedly, process() still returns a drop naming the error type."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("leadgate.pipeline.leads.build_lead", broken)
    outcome = process(record(make_track()), KNOWN, lead_capture)
    assert outcome.drop is DropReason.MALFORMED
    assert outcome.detail == "unexpected RuntimeError while processing"
