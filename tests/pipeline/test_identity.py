"""Identity: profiles merge without losing data, and the first usable email identifies a lead."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.outcome import Drop
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.identity import Identity, find_email, merge_profiles, remember

MERGES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ({"email": "a@x.com"}, {"firstName": "Jane"}, {"email": "a@x.com", "firstName": "Jane"}, "add"),
    ({"firstName": "Jane"}, {"firstName": ""}, {"firstName": "Jane"}, "empty never overwrites"),
    ({"firstName": "Jane"}, {"firstName": "  "}, {"firstName": "Jane"}, "blank never overwrites"),
    ({"firstName": "Jane"}, {"firstName": None}, {"firstName": "Jane"}, "null never overwrites"),
    ({"firstName": "Jane"}, {"firstName": "Janet"}, {"firstName": "Janet"}, "newer value wins"),
    ({}, {"address": {"city": "x"}, "tags": ["a"]}, {}, "nested values are not kept"),
    ({}, {"age": 41, "vip": True}, {"age": 41, "vip": True}, "scalars are kept"),
]


@pytest.mark.parametrize(("before", "traits", "after", "case"), MERGES, ids=[m[3] for m in MERGES])
def test_remember_traits(
    before: dict[str, Any], traits: dict[str, Any], after: dict[str, Any], case: str
) -> None:
    """identify traits merge into the profile; empty values never erase known ones."""
    updated = remember(Profile(traits=before), traits, None)
    assert (updated.traits if updated is not None else before) == after


def test_remember_returns_none_when_nothing_changes() -> None:
    """A repeat of known traits and consent produces no write."""
    profile = Profile(traits={"email": "a@x.com"}, consent={"marketing": True})
    assert remember(profile, {"email": "a@x.com"}, {"marketing": True}) is None
    assert remember(profile, {}, None) is None


def test_consent_is_replaced_by_the_latest_statement() -> None:
    """A later consent statement (a revocation too) replaces the stored one."""
    profile = Profile(consent={"marketing": True, "analytics": True})
    updated = remember(profile, {}, {"marketing": False})
    assert updated is not None
    assert updated.consent == {"marketing": False}


def test_merge_profiles_user_first_and_fills_gaps() -> None:
    """A userId profile wins; the anonymous profile fills the traits it lacks."""
    user = Profile(traits={"email": "u@x.com"}, consent={})
    anon = Profile(traits={"email": "a@x.com", "city": "Paris"}, consent={"marketing": True})
    merged = merge_profiles([user, None, anon])
    assert merged.traits == {"email": "u@x.com", "city": "Paris"}
    assert merged.consent == {"marketing": True}
    assert merge_profiles([]) == Profile()


EMAILS: list[tuple[list[tuple[str, dict[str, Any]]], str | DropReason, str]] = [
    ([("context.traits", {"email": "Jane@Acme.com"})], "jane@acme.com", "from the event"),
    ([("context.traits", {}), ("profile", {"email": "j@acme.com"})], "j@acme.com", "stitched"),
    ([("properties", {"email": "Bob <b@x.com>"}), ("profile", {"email": "b@x.com"})], "b@x.com",
     "I3 display name treated as missing, profile used"),
    ([("context.traits", {}), ("profile", {})], DropReason.NO_IDENTITY, "I1 no email at all"),
    ([("context.traits", {"email": ""})], DropReason.NO_IDENTITY, "blank is missing"),
    ([("context.traits", {"email": "jane@@acme.com"})], DropReason.INVALID_EMAIL, "I6 invalid"),
    ([("context.traits", {"email": "ja\u200bne@acme.com"})], DropReason.INVALID_EMAIL, "I5"),
    ([("properties", {"email": 42})], DropReason.INVALID_EMAIL, "not text"),
]  # fmt: skip


@pytest.mark.parametrize(("sources", "expected", "case"), EMAILS, ids=[e[2] for e in EMAILS])
def test_find_email(
    sources: list[tuple[str, dict[str, Any]]], expected: str | DropReason, case: str
) -> None:
    """The first usable email wins; none usable is invalid_email, none at all no_identity."""
    found = find_email(sources)
    if isinstance(expected, DropReason):
        assert isinstance(found, Drop)
        assert found.reason is expected
    else:
        assert isinstance(found, Identity)
        assert found.email == expected


def test_invalid_email_detail_names_source_not_address() -> None:
    """The drop detail says where the bad address was, never the address."""
    found = find_email([("properties", {"email": "secret@@acme.com"})])
    assert isinstance(found, Drop)
    assert "properties.email" in found.detail
    assert "secret" not in found.detail
