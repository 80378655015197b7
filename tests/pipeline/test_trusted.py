"""trusted(): models the pipeline builds without re-validation equal their validated twins."""

from __future__ import annotations

from leadgate.domain.lead import AccountHint, LeadIntent
from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import new_profile
from leadgate.pipeline.trusted import trusted


def test_new_profile_equals_a_validated_profile() -> None:
    """A profile built by the pipeline dumps, compares and serialises like a validated one."""
    traits = {"email": "jane@acme.com", "age": 3}
    built = new_profile(traits, {"marketing": True})
    validated = Profile(traits=traits, consent={"marketing": True})
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.email == "jane@acme.com"
    assert Profile.model_validate_json(built.model_dump_json()) == validated


def test_trusted_lead_round_trips_through_kafka_bytes() -> None:
    """A lead intent built with trusted() serialises to the same bytes as a validated one."""
    values = {
        "schema_version": 1,
        "email": "jane@acme.com",
        "attributes": {"emails": ["jane@acme.com"], "firstName": "Jane"},
        "tags": ("Signal",),
        "account": trusted(AccountHint, {"domain": "acme.com", "name": None}),
        "consent": {"marketing": True},
        "required_consent": ("marketing",),
        "identities": ("user:u1",),
        "message_ids": ("m1",),
        "event": "Signed Up",
        "preset": "Lead Capture",
        "received_at": None,
        "routing": None,
    }
    built = trusted(LeadIntent, dict(values))
    validated = LeadIntent.model_validate(values)
    assert built == validated
    assert built.to_bytes() == validated.to_bytes()
    assert LeadIntent.from_bytes(built.to_bytes()) == validated
