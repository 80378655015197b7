"""Coalescing the lead intents of one email into one upsert."""

from __future__ import annotations

import pytest

from leadgate.domain.lead import AccountHint, LeadIntent
from leadgate.workers.coalesce import LeadingEdge, coalesce, units
from tests.plugins.clock import FakeClock


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


def test_leading_edge_lets_the_first_write_go_and_holds_followers_until_the_window_ends() -> None:
    """An email never written goes now; within the window after a write it is due at its end."""
    clock = FakeClock(100.0)
    edge = LeadingEdge(1.0, clock=clock)
    assert edge.due("a@acme.com") is None
    edge.wrote("a@acme.com", clock.now)
    clock.now += 0.3
    assert edge.due("a@acme.com") == 101.0
    assert edge.due("b@acme.com") is None
    clock.now += 0.8
    assert edge.due("a@acme.com") is None


def test_no_window_never_holds() -> None:
    """With coalesce_window_s = 0 every write goes at once."""
    edge = LeadingEdge(0.0, clock=FakeClock(100.0))
    edge.wrote("a@acme.com", 100.0)
    assert edge.due("a@acme.com") is None


def test_leading_edge_forgets_old_writes_beyond_its_bound() -> None:
    """Memory stays bounded: past the bound, writes older than the window are forgotten."""
    clock = FakeClock(100.0)
    edge = LeadingEdge(1.0, clock=clock, remembered=2)
    edge.wrote("a@acme.com", clock.now)
    edge.wrote("b@acme.com", clock.now)
    clock.now += 5
    edge.wrote("c@acme.com", clock.now)
    assert len(edge._last) == 1


def test_units_cut_at_every_intent_that_is_not_a_prospect_upsert() -> None:
    """Runs of prospect upserts form one unit each; any other kind is a unit of its own, in
    the key's order."""
    kinds = ["upsert_prospect", "upsert_prospect", "consent_withdrawn", "upsert_prospect"]
    group = [(i, _intent(kind=k, message_ids=(f"m{i}",))) for i, k in enumerate(kinds)]
    assert [[i for i, _ in unit] for unit in units(group)] == [[0, 1], [2], [3]]


def test_a_barrier_is_never_coalesced() -> None:
    """Folding a consent withdrawal into an upsert would lose it: coalesce refuses."""
    with pytest.raises(ValueError, match="upsert_prospect"):
        coalesce([_intent(), _intent(kind="consent_withdrawn")])
