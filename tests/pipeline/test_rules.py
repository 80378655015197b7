"""Preset rules: lists of rules with `when`, routing keys, condition_not_met drops, and errors
that name file, line and field."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.errors import PresetError
from leadgate.pipeline.presets import Preset, load_preset, parse_preset
from leadgate.pipeline.process import process
from tests.plugins.events import ROOT, EventFactory, record

ROUTING = ROOT / "presets" / "outreach-demo-routing.yaml"
KNOWN = Profile(
    traits={"email": "jane.doe@acme.com", "country": "GB", "owner": "bob"},
    consent={"marketing": True},
)
HEAD = """name: Routed
integration: outreach
consent: [marketing]
mappings: {email: emails}
events:
"""


@pytest.fixture(scope="module")
def routing() -> Preset:
    """The shipped demo routing preset."""
    return load_preset(ROUTING)


def errors_of(events: str) -> list[str]:
    """The error lines of a preset whose events block is ``events`` (fails if it loads)."""
    with pytest.raises(PresetError) as info:
        parse_preset((HEAD + events).encode(), "r.yaml")
    return info.value.errors


def test_paid_demo_request_takes_the_first_rule(routing: Preset, make_track: EventFactory) -> None:
    """plan: enterprise matches rule 1: owner rotation, sequence from the owner, stage Inbound."""
    event = make_track(userId="u1", properties={"plan": "enterprise"})
    outcome = process(record(event), KNOWN, routing)
    assert outcome.lead is not None
    assert outcome.lead.routing is not None
    plan = outcome.lead.routing
    assert plan.rule == "paid demo request"
    assert plan.condition == "properties.plan one of [enterprise, business]"
    assert [link.via for link in plan.owner] == ["rotation"]
    assert plan.owner[0].users == ("alice", "bob")
    assert plan.owner[0].rotation == "Demo Routing:reps"  # shared by both Demo Requested rules
    assert plan.sequence is not None
    assert plan.sequence.name == "Inbound Demo Request"
    assert plan.sequence.mailbox is None
    assert plan.sequence.enrol == "new"
    assert plan.stage == "Inbound"
    names = [stage.stage for stage in outcome.stages]
    assert names[2] == "condition"
    assert names[-1] == "routing"


def test_other_demo_request_falls_to_the_last_rule(
    routing: Preset, make_track: EventFactory
) -> None:
    """plan: free gets an owner and a stage but no sequence."""
    outcome = process(record(make_track(userId="u1", properties={"plan": "free"})), KNOWN, routing)
    assert outcome.lead is not None
    assert outcome.lead.routing is not None
    assert outcome.lead.routing.sequence is None
    assert outcome.lead.routing.stage == "Inbound"


def test_lead_capture_events_are_unrouted(routing: Preset, make_track: EventFactory) -> None:
    """The other Lead Capture events send as before, with no routing plan."""
    outcome = process(record(make_track(event="Signed Up", userId="u1")), KNOWN, routing)
    assert outcome.lead is not None
    assert outcome.lead.routing is None
    assert outcome.lead.tags == ("Signal", "signup")


CONDITIONAL = """  Demo Requested:
    - when: {properties.plan: enterprise}
      action: upsert_prospect
      owner: [{field: properties.rep}, {field: traits.owner}, alice@sandbox.invalid]
    - when: {traits.country: {one_of: [FR, DE]}}
      action: drop
"""


def test_no_rule_applies_drops_with_the_failed_conditions(make_track: EventFactory) -> None:
    """When no when holds the event drops as condition_not_met, naming each failed test."""
    preset = parse_preset((HEAD + CONDITIONAL).encode(), "r.yaml")
    outcome = process(record(make_track(properties={"plan": "free"})), KNOWN, preset)
    assert outcome.drop is DropReason.CONDITION_NOT_MET
    assert outcome.detail == (
        "no rule applies: 'Demo Requested #1': properties.plan is 'free', not enterprise; "
        "'Demo Requested #2': traits.country is 'GB', not one of [FR, DE]"
    )
    condition = [s for s in outcome.stages if s.stage == "condition"]
    assert condition
    assert condition[0].reason == "condition_not_met"
    assert outcome.profile is None  # nothing new to remember, but the decision is explained


def test_a_drop_rule_that_matches_drops_as_unmapped(make_track: EventFactory) -> None:
    """A matching drop rule drops the event (unmapped_event), saying which rule did."""
    preset = parse_preset((HEAD + CONDITIONAL).encode(), "r.yaml")
    profile = Profile(traits={**KNOWN.traits, "country": "FR"}, consent={"marketing": True})
    outcome = process(record(make_track(properties={"plan": "free"})), profile, preset)
    assert outcome.drop is DropReason.UNMAPPED_EVENT
    assert outcome.detail is not None
    assert "the rule drops the event" in outcome.detail


def test_owner_chain_reads_fields_from_event_and_profile(make_track: EventFactory) -> None:
    """A field owner carries the field's value; an empty field stays in the chain unset."""
    preset = parse_preset((HEAD + CONDITIONAL).encode(), "r.yaml")
    event = make_track(properties={"plan": "enterprise"})
    outcome = process(record(event), KNOWN, preset)
    assert outcome.lead is not None
    assert outcome.lead.routing is not None
    links = outcome.lead.routing.owner
    assert [(link.via, link.field, link.user) for link in links] == [
        ("field", "properties.rep", None),
        ("field", "traits.owner", "bob"),
        ("user", None, "alice@sandbox.invalid"),
    ]


def test_the_lead_intent_carries_the_plan_through_kafka(
    routing: Preset, make_track: EventFactory
) -> None:
    """The routing plan survives the lead intent's serialisation."""
    from leadgate.domain.lead import LeadIntent

    event = make_track(userId="u1", properties={"plan": "business"})
    lead = process(record(event), KNOWN, routing).lead
    assert lead is not None
    assert LeadIntent.from_bytes(lead.to_bytes()) == lead


BAD: list[tuple[str, str, str]] = [
    (
        "unreachable rule",
        "  Demo Requested:\n    - {action: upsert_prospect}\n"
        "    - {when: {properties.plan: x}, action: upsert_prospect}\n",
        "r.yaml:7: events.Demo Requested.0: only the last rule may go without when",
    ),
    (
        "bad field root",
        "  Demo Requested: {when: {plan: x}, action: upsert_prospect}\n",
        "r.yaml:6: events.Demo Requested.when.plan",
    ),
    (
        "unknown test",
        "  Demo Requested: {when: {properties.plan: {match: x}}, action: upsert_prospect}\n",
        "r.yaml:6: events.Demo Requested.when.properties.plan.match: unknown field",
    ),
    (
        "sequence without owner",
        "  Demo Requested: {action: upsert_prospect, sequence: Inbound Demo Request}\n",
        "r.yaml:6: events.Demo Requested: sequence: it sends from the owner's mailbox",
    ),
    (
        "bad owner",
        "  Demo Requested: {action: upsert_prospect, owner: {team: x}}\n",
        "r.yaml:6: events.Demo Requested.owner.0: an owner is a user",
    ),
    (
        "sequence name and id",
        "  Demo Requested: {action: upsert_prospect, owner: a, sequence: {name: x, id: 3}}\n",
        "r.yaml:6: events.Demo Requested.sequence: sequence: give its name or its id",
    ),
    (
        "drop with routing",
        "  Demo Requested: {action: drop, stage: Inbound}\n",
        "r.yaml:6: events.Demo Requested: a drop rule takes no tags",
    ),
    (
        "a list as a value",
        "  Demo Requested:\n    - when: {properties.plan: {one_of: [x, [y]]}}\n"
        "      action: upsert_prospect\n",
        "r.yaml:7: events.Demo Requested.0.when.properties.plan.one_of.1: expected text, a number",
    ),
]


@pytest.mark.parametrize(("case", "events", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_rules_name_file_line_and_field(case: str, events: str, expected: str) -> None:
    """Each bad rule fails with one error starting with file:line: field."""
    errors = errors_of(events)
    assert any(line.startswith(expected) for line in errors), errors


def test_existing_shape_is_unchanged(lead_capture: Preset) -> None:
    """A single mapping per event still loads, as a one-rule list without conditions."""
    rules = lead_capture.events["Demo Requested"]
    assert len(rules) == 1
    assert rules[0].when is None
    assert rules[0].owner is None
    assert lead_capture.rule_for("Demo Requested") is rules[0]


def test_routing_rule_fields_round_trip_any_shape() -> None:
    """Owner and sequence shorthands load into the same models as their long forms."""
    short = "  Demo Requested: {action: upsert_prospect, owner: bob, sequence: Nurture}\n"
    long: Any = (
        "  Demo Requested: {action: upsert_prospect, owner: [{user: bob}], "
        "sequence: {name: Nurture, enrol: new}}\n"
    )
    one = parse_preset((HEAD + short).encode(), "r.yaml").events["Demo Requested"][0]
    two = parse_preset((HEAD + long).encode(), "r.yaml").events["Demo Requested"][0]
    assert one == two
