"""CRM records: a person's sync fields and ``properties.opportunity`` are checked, normalised, and
refused with ``invalid_record`` and a detail that names the field but never its value."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.opportunity import OpportunityContact, OpportunityPlan
from leadgate.domain.outcome import Drop
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.crm import check_person, parse_opportunity


def make_opportunity(**overrides: Any) -> dict[str, Any]:
    """A well-formed ``properties.opportunity`` with ``overrides`` applied (None removes)."""
    opportunity: dict[str, Any] = {
        "id": "OPP-1",
        "name": "Acme renewal",
        "amount": 5000,
        "currency": "eur",
        "closeDate": "2026-12-31",
        "stage": "Negotiation",
        "owner": "alice",
        "accountDomain": "WWW.Acme.com",
        "contacts": [{"email": "Jane.Doe@Acme.com", "role": "Decision Maker", "primary": True}],
    }
    for key, value in overrides.items():
        if value is None:
            opportunity.pop(key, None)
        else:
            opportunity[key] = value
    return opportunity


def test_a_well_formed_opportunity_is_normalised() -> None:
    """Currency upper-cased, date as UTC midnight with ms, domain without www., email normalised."""
    plan = parse_opportunity({"opportunity": make_opportunity()})
    assert plan == OpportunityPlan(
        source_id="OPP-1",
        name="Acme renewal",
        amount="5000",
        currency="EUR",
        close_date="2026-12-31T00:00:00.000Z",
        stage="Negotiation",
        owner="alice",
        account_domain="acme.com",
        contacts=(
            OpportunityContact(email="jane.doe@acme.com", role="Decision Maker", primary=True),
        ),
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"id": 42}, {"source_id": "42"}),
        ({"amount": 1234.5}, {"amount": "1234.5"}),
        ({"amount": "99.90"}, {"amount": "99.90"}),
        ({"closeDate": "2026-06-30T15:00:00+02:00"}, {"close_date": "2026-06-30T13:00:00.000Z"}),
        ({"amount": None, "currency": None, "stage": None, "owner": None}, {"amount": None}),
    ],
)
def test_forgiving_where_the_meaning_is_clear(
    overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Numeric ids, decimal amounts, offsets and absent optional fields are read as meant."""
    plan = parse_opportunity({"opportunity": make_opportunity(**overrides)})
    assert isinstance(plan, OpportunityPlan)
    for field, value in expected.items():
        assert getattr(plan, field) == value


def test_one_person_with_two_roles_keeps_both_and_a_repeated_pair_is_one() -> None:
    """Two roles of one person stay two contacts; the same (person, role) twice is one."""
    contacts = [
        {"email": "a@acme.com", "role": "Decision Maker"},
        {"email": "A@acme.com", "role": "Decision Maker", "primary": True},
        {"email": "a@acme.com", "role": "Champion"},
    ]
    plan = parse_opportunity({"opportunity": make_opportunity(contacts=contacts)})
    assert isinstance(plan, OpportunityPlan)
    assert plan.contacts == (
        OpportunityContact(email="a@acme.com", role="Decision Maker", primary=True),
        OpportunityContact(email="a@acme.com", role="Champion", primary=False),
    )


@pytest.mark.parametrize(
    ("properties", "detail"),
    [
        ({}, "properties.opportunity is missing"),
        ({"opportunity": "OPP-1"}, "properties.opportunity is text, not an object"),
        ({"opportunity": make_opportunity(id=None)}, "opportunity.id is required"),
        ({"opportunity": make_opportunity(id=True)}, "opportunity.id must be text, not a boolean"),
        ({"opportunity": make_opportunity(name="  ")}, "opportunity.name is required"),
        ({"opportunity": make_opportunity(amount="1,000")},
         "opportunity.amount must be a plain number such as 5000 or 5000.50"),
        ({"opportunity": make_opportunity(amount=True)},
         "opportunity.amount must be a number, not a boolean"),
        ({"opportunity": make_opportunity(amount="1e400")},
         "opportunity.amount has more than 15 characters"),
        ({"opportunity": make_opportunity(currency="euro")},
         "opportunity.currency must be a three-letter ISO 4217 code such as EUR"),
        ({"opportunity": make_opportunity(closeDate="next week")},
         "opportunity.closeDate must be a date (2026-12-31) or an ISO date-time"),
        ({"opportunity": make_opportunity(accountDomain="not a domain")},
         "opportunity.accountDomain must be a domain such as acme.com"),
        ({"opportunity": make_opportunity(contacts={"email": "a@acme.com"})},
         "opportunity.contacts must be a list, not an object"),
        ({"opportunity": make_opportunity(contacts=[{"role": "Champion"}])},
         "opportunity.contacts.0.email is required"),
        ({"opportunity": make_opportunity(contacts=[{"email": "Bob <bob@acme.com>"}])},
         "opportunity.contacts.0.email: display-name forms and quoted parts are not accepted"),
        ({"opportunity": make_opportunity(contacts=[{"email": "b@acme.com", "primary": "yes"}])},
         "opportunity.contacts.0.primary must be true or false, not text"),
        ({"opportunity": make_opportunity(stage="x" * 256)},
         "opportunity.stage is longer than 255 characters"),
        ({"opportunity": {**make_opportunity(), "probability": 50}},
         "properties.opportunity has unknown fields: probability"),
    ],
)  # fmt: skip
def test_malformed_opportunities_drop_as_invalid_record(
    properties: dict[str, Any], detail: str
) -> None:
    """Each malformed field gives invalid_record with a detail naming the field, not the value."""
    result = parse_opportunity(properties)
    assert result == Drop(DropReason.INVALID_RECORD, detail)
    assert "bob@" not in result.detail


@pytest.mark.parametrize(
    ("traits", "detail"),
    [
        ({"syncToOutreach": True, "assignedTo": "alice"}, None),
        ({"syncToOutreach": False}, None),
        ({}, None),
        ({"syncToOutreach": "true"}, "traits.syncToOutreach must be true or false, not text"),
        ({"syncToOutreach": 1}, "traits.syncToOutreach must be true or false, not a number"),
        ({"assignedTo": ["alice"]}, "traits.assignedTo must be text, not a list"),
    ],
)
def test_person_sync_fields(traits: dict[str, Any], detail: str | None) -> None:
    """The sync flag must be a real boolean and the owner's username text."""
    result = check_person(traits)
    assert result == (None if detail is None else Drop(DropReason.INVALID_RECORD, detail))
