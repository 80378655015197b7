"""Mapping normalised traits to the Outreach prospect document and the lead's account hint."""

from __future__ import annotations

import pytest

from leadgate.domain.freemail import FREEMAIL_DOMAINS
from leadgate.domain.lead import AccountHint
from leadgate.domain.prospect import is_prospect_attribute
from leadgate.outreach.accounts import account_domain
from leadgate.pipeline.mapping import account_hint, attributes, build_lead
from leadgate.pipeline.presets import Preset


def test_attributes_follow_preset_order_and_list_types(lead_capture: Preset) -> None:
    """Array attributes get one-element lists; title fills occupation; order is the preset's."""
    values = {
        "email": "jane@acme.com",
        "phone": "+447700900123",
        "title": "CTO",
        "city": "London",
        "country": "GB",
        "ignored": "x",
    }
    assert list(attributes(values, lead_capture).items()) == [
        ("emails", ["jane@acme.com"]),
        ("title", "CTO"),
        ("occupation", "CTO"),
        ("mobilePhones", ["+447700900123"]),
        ("addressCity", "London"),
        ("addressCountry", "GB"),
    ]


HINTS = [
    ("jane@acme.com", "Acme Inc", AccountHint(domain="acme.com", name="Acme Inc"), "corporate"),
    ("jane@gmail.com", "Acme Inc", AccountHint(domain=None, name="Acme Inc"), "free mail"),
    ("jane@acme.com", None, AccountHint(domain="acme.com", name=None), "domain only"),
    ("jane@outlook.com", None, None, "nothing identifies a company"),
]


@pytest.mark.parametrize(("email", "company", "expected", "case"), HINTS, ids=[h[3] for h in HINTS])
def test_account_hint(email: str, company: str | None, expected: AccountHint, case: str) -> None:
    """Free-mail domains never become an account's domain."""
    assert account_hint(email, company) == expected


@pytest.mark.parametrize("domain", sorted(FREEMAIL_DOMAINS))
def test_the_dry_run_and_the_delivery_agree_on_every_free_mail_domain(domain: str) -> None:
    """For every free-mail domain (outlook.de among them) the lead shows no account domain and
    the delivery links no account: the inspector's dry run explains what production does."""
    hint = account_hint(f"visitor@{domain}", "Acme Inc")
    assert hint == AccountHint(domain=None, name="Acme Inc")
    assert account_domain(hint, f"visitor@{domain}") is None


def test_the_dry_run_and_the_delivery_agree_on_a_corporate_domain() -> None:
    """A corporate address gives the same domain in the lead and in the account link."""
    hint = account_hint("jane@acme.co.uk", None)
    assert hint is not None
    assert hint.domain == "acme.co.uk"
    assert account_domain(hint, "jane@acme.co.uk") == "acme.co.uk"


def test_build_lead_round_trips_through_kafka_bytes(lead_capture: Preset) -> None:
    """The lead intent serialises for the delivery topic and parses back equal."""
    rule = lead_capture.rule_for("Signed Up")
    assert rule is not None
    lead = build_lead(
        {"email": "jane@acme.com", "firstName": "Jane"},
        lead_capture,
        rule,
        event="Signed Up",
        consent={"marketing": True},
        identities=("user:u1",),
        message_id="m1",
        received_at=None,
    )
    assert lead.document()["data"]["attributes"]["tags"] == ["Signal", "signup"]
    assert type(lead).from_bytes(lead.to_bytes()) == lead


@pytest.mark.parametrize(
    ("name", "ok"),
    [("emails", True), ("custom1", True), ("custom150", True), ("custom151", False),
     ("linkedinUrl", False), ("phoneNumbers", False), ("addressCity", True)],
)  # fmt: skip
def test_prospect_attributes(name: str, ok: bool) -> None:
    """Only attributes Outreach accepts may be mapped (mis-cased ones are rejected)."""
    assert is_prospect_attribute(name) is ok
