"""Coalescing the lead intents of one email into one upsert."""

from __future__ import annotations

from leadgate.domain.lead import AccountHint, LeadIntent
from leadgate.kafka.coalesce import coalesce


def _intent(**overrides: object) -> LeadIntent:
    values: dict[str, object] = {
        "email": "jane.doe@acme.com",
        "attributes": {"emails": ["jane.doe@acme.com"], "firstName": "Jane"},
        "tags": ("Signal", "lead"),
        "consent": {"marketing": True},
        "required_consent": ("marketing",),
        "identities": ("user:u1",),
        "message_ids": ("m1",),
    }
    values.update(overrides)
    return LeadIntent(**values)


def test_one_intent_is_unchanged() -> None:
    """A lone intent is delivered exactly as the processor produced it."""
    only = _intent()
    assert coalesce([only]) is only


def test_tags_union_and_every_message_id_kept() -> None:
    """Two events of one prospect become one upsert carrying both tags and both messageIds."""
    merged = coalesce([_intent(), _intent(tags=("Signal", "demo-request"), message_ids=("m2",))])
    assert merged.tags == ("Signal", "lead", "demo-request")
    assert merged.message_ids == ("m1", "m2")


def test_later_non_empty_attributes_win() -> None:
    """A later value replaces an earlier one, but an empty later value never erases data."""
    first = _intent(attributes={"firstName": "Jane", "title": "CTO", "company": "Acme"})
    second = _intent(attributes={"firstName": "Janet", "title": "", "city": "London"})
    merged = coalesce([first, second])
    assert merged.attributes == {
        "firstName": "Janet",
        "title": "CTO",
        "company": "Acme",
        "city": "London",
    }


def test_latest_consent_and_account_hint() -> None:
    """Consent is the latest per category; the last known account hint is kept."""
    first = _intent(account=AccountHint(domain="acme.com", name="Acme"))
    second = _intent(consent={"marketing": False}, account=None, identities=("anon:a1",))
    merged = coalesce([first, second])
    assert merged.consent == {"marketing": False}
    assert merged.account == AccountHint(domain="acme.com", name="Acme")
    assert merged.identities == ("user:u1", "anon:a1")
