"""The seed's "Example: Demo Requested" through process(), against its golden document."""

from __future__ import annotations

import orjson

from leadgate.domain.events import decode
from leadgate.domain.outcome import Outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.identity import merge_profiles
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.process import identities_of, process
from tests.plugins.events import FIXTURES


def run_stream(lines: list[bytes], preset: Preset) -> list[Outcome]:
    """Process records in order with an in-memory profile store, as the processor does."""
    profiles: dict[str, Profile] = {}
    outcomes = []
    for line in lines:
        head = decode(line)
        snapshot = merge_profiles(profiles.get(key) for key in identities_of(head))
        outcome = process(line, snapshot, preset, head=head)
        if outcome.profile is not None:
            for key in outcome.identities:
                profiles[key] = outcome.profile
        outcomes.append(outcome)
    return outcomes


def test_demo_requested_document_equals_the_seed_payload(lead_capture: Preset) -> None:
    """identify(Jane Doe) then track("Demo Requested") yields exactly the seed's JSON:API body."""
    lines = (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()
    golden = orjson.loads((FIXTURES / "seed_demo_requested.json").read_bytes())
    outcomes = run_stream(lines, lead_capture)
    demo = next(o for o in outcomes if o.message_id == "seed-3-demo")
    assert demo.lead is not None
    assert demo.lead.document() == golden
    assert list(demo.lead.document()["data"]["attributes"]) == list(golden["data"]["attributes"])


def test_seed_stream_drop_reasons(lead_capture: Preset) -> None:
    """Every event of the seed stream gets the reason a marketer would expect."""
    lines = (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()
    outcomes = run_stream(lines, lead_capture)
    assert [o.drop for o in outcomes] == [
        DropReason.UNMAPPED_EVENT,
        DropReason.UNMAPPED_EVENT,
        None,
        DropReason.UNMAPPED_EVENT,
        DropReason.NO_CONSENT,
    ]
    assert outcomes[0].detail is not None
    assert "traits remembered" in outcomes[0].detail


def test_lead_intent_carries_what_delivery_needs(lead_capture: Preset) -> None:
    """The lead names its email key, consent, identities, account hint and source message."""
    lines = (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()
    lead = run_stream(lines, lead_capture)[2].lead
    assert lead is not None
    assert lead.email == "jane.doe@acme.com"
    assert lead.consent == {"marketing": True, "analytics": True}
    assert lead.required_consent == ("marketing",)
    assert lead.identities == ("user:user-123", "anon:anon-9f2c")
    assert lead.message_ids == ("seed-3-demo",)
    assert lead.event == "Demo Requested"
    assert lead.preset == "Lead Capture"
    assert lead.received_at == "2026-11-23T10:00:09.090Z"
    assert lead.account is not None
    assert lead.account.domain == "acme.com"
    assert lead.account.name == "Acme Inc"
