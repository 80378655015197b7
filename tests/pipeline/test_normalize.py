"""Normalising traits: E.164 phones, names, plain text; a bad field is dropped, never the lead."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate.pipeline.normalize import clean_text, normalize_phone, normalize_traits

WANTED = ["firstName", "lastName", "name", "title", "company", "phone", "city", "country"]

PHONES = [
    ("+44 7700 900123", None, "+447700900123", "seed number, international form"),
    ("07700 900123", "GB", "+447700900123", "national form with region"),
    ("(650) 253-0000", "US", "+16502530000", "US national"),
    ("+1 650 253 0000 ext. 123", None, "+16502530000", "I8 extension dropped"),
    ("1-800-FLOWERS", "US", "+18003569377", "I8 vanity letters"),
    ("07700 900123", None, None, "I7 no country code, no default region"),
    ("1" * 30, "US", None, "I8 thirty digits"),
    ("+000", None, None, "I8 +000"),
    ("+44 123", None, None, "too short"),
    ("call me", "GB", None, "not a number"),
    ("+44 7700 900123" + " " * 40, None, None, "over the length cap"),
    ("000000", "DE", None, "all zeros: its E.164 form would format differently again"),
]


@pytest.mark.parametrize(("raw", "region", "expected", "case"), PHONES, ids=[p[3] for p in PHONES])
def test_phone_to_e164(raw: str, region: str | None, expected: str | None, case: str) -> None:
    """Phones become E.164, or None when they cannot be one."""
    assert normalize_phone(raw, region) == expected


def test_country_trait_sets_the_phone_region() -> None:
    """A national number uses the country trait's region before the configured default."""
    traits = {"phone": "020 7946 0018", "country": "gb"}
    result = normalize_traits(traits, ["phone"], default_region="US")
    assert result.values == {"phone": "+442079460018"}
    assert result.warnings == []


def test_default_region_applies_without_country() -> None:
    """Without a country trait the configured default region parses national numbers."""
    result = normalize_traits({"phone": "07700 900123"}, ["phone"], default_region="GB")
    assert result.values["phone"] == "+447700900123"


def test_invalid_phone_is_a_warning_not_a_drop() -> None:
    """I7: an unparseable phone leaves a warning and the other fields intact."""
    result = normalize_traits({"phone": "07700 900123", "firstName": "Jane"}, WANTED)
    assert result.values == {"firstName": "Jane", "name": "Jane"}
    assert result.warnings == ["phone dropped: no country code and no default region"]


NAMES: list[tuple[dict[str, Any], str | None, str]] = [
    ({"name": "Jane Doe", "firstName": "J", "lastName": "D"}, "Jane Doe", "name wins"),
    ({"firstName": "Jane", "lastName": "Doe"}, "Jane Doe", "first + last"),
    ({"firstName": " Jane "}, "Jane", "first only"),
    ({"lastName": "Doe"}, "Doe", "last only"),
    ({"name": "  ", "firstName": "Jane"}, "Jane", "blank name falls back"),
    ({}, None, "nothing"),
]


@pytest.mark.parametrize(("traits", "expected", "case"), NAMES, ids=[n[2] for n in NAMES])
def test_name(traits: dict[str, Any], expected: str | None, case: str) -> None:
    """name comes from name, else from first and last name."""
    assert normalize_traits(traits, ["name"]).values.get("name") == expected


TEXTS: list[tuple[object, str | None, str]] = [
    ("  Head   of Growth ", "Head of Growth", "whitespace collapsed"),
    ("Cafe\u0301", "Café", "NFC"),
    (42, "42", "number as text"),
    (True, None, "boolean"),
    (["a"], None, "list"),
    ("x" * 256, None, "over 255 characters"),
    ("bad\u0000value", None, "control character"),
    ("rtl\u202eoverride", None, "bidi override"),
]


@pytest.mark.parametrize(("raw", "expected", "case"), TEXTS, ids=[t[2] for t in TEXTS])
def test_clean_text(raw: object, expected: str | None, case: str) -> None:
    """Text traits are NFC, trimmed and bounded; unusable values give None."""
    assert clean_text(raw) == expected


def test_unusable_text_field_warns() -> None:
    """A trait that is not usable text is dropped with a warning naming the field."""
    result = normalize_traits({"company": {"name": "Acme"}}, ["company"])
    assert result.values == {}
    assert result.warnings == ["company dropped: not usable text"]


_TRAIT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.from_regex(r"\+?[0-9 ()-]{3,20}", fullmatch=True),
    st.lists(st.text(max_size=5), max_size=2),
)
_TRAITS = st.dictionaries(st.sampled_from([*WANTED, "email"]), _TRAIT_VALUES, max_size=9)


@given(_TRAITS, st.sampled_from([None, "GB", "US", "DE"]))
def test_normalising_twice_changes_nothing(traits: dict[str, Any], region: str | None) -> None:
    """Normalisation never raises and is idempotent on its own output."""
    once = normalize_traits(traits, WANTED, default_region=region)
    twice = normalize_traits(once.values, WANTED, default_region=region)
    assert twice.values == once.values
    assert twice.warnings == []
