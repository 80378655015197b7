"""Conditions: every test kind, on event and profile fields, with the failure spelled out."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from leadgate.pipeline.conditions import Condition, check, describe, glob_match, lookup

CONDITION: TypeAdapter[dict[str, Any]] = TypeAdapter(Condition)
DATA: dict[str, Any] = {
    "properties": {"plan": "enterprise", "seats": "25", "score": 7.5, "trial": True},
    "traits": {"country": "GB", "email": "jane.doe@acme.com", "tags": ["a", "b"]},
    "context": {"page": {"path": "/pricing/enterprise"}},
}


def holds(when: dict[str, Any]) -> tuple[bool, str]:
    """Validate ``when`` as a preset would and check it on DATA."""
    verdict = check(CONDITION.validate_python(when), DATA)
    return verdict.holds, verdict.failed


CASES: list[tuple[dict[str, Any], bool]] = [
    ({"properties.plan": "enterprise"}, True),
    ({"properties.plan": "free"}, False),
    ({"properties.plan": {"equals": "Enterprise"}}, False),  # case matters
    ({"properties.plan": {"not_equals": "free"}}, True),
    ({"properties.plan": {"one_of": ["business", "enterprise"]}}, True),
    ({"properties.plan": ["business", "enterprise"]}, True),  # a list is one_of
    ({"properties.plan": {"not_one_of": ["free", "starter"]}}, True),
    ({"properties.missing": {"not_one_of": ["free"]}}, True),
    ({"traits.country": {"exists": True}}, True),
    ({"traits.phone": {"exists": True}}, False),
    ({"traits.phone": {"exists": False}}, True),
    ({"context.page.path": {"prefix": "/pricing"}}, True),
    ({"context.page.path": {"prefix": "/docs"}}, False),
    ({"context.page.path": {"glob": "/pricing/*"}}, True),
    ({"context.page.path": {"glob": "/p?icing/ent*e"}}, True),
    ({"context.page.path": {"glob": "*/docs/*"}}, False),
    ({"properties.seats": {"gte": 25}}, True),  # numeric text reads as a number
    ({"properties.seats": {"gt": 25}}, False),
    ({"properties.score": {"gt": 5, "lt": 10}}, True),
    ({"properties.score": {"lte": 7}}, False),
    ({"properties.plan": {"gt": 1}}, False),  # not a number
    ({"properties.trial": True}, True),
    ({"properties.trial": 1}, False),  # booleans are not numbers
    ({"traits.tags.1": "b"}, True),
    ({"properties.plan": "enterprise", "traits.country": "FR"}, False),  # all must hold
]


@pytest.mark.parametrize(("when", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_each_test_kind(when: dict[str, Any], expected: bool) -> None:
    """Each test kind holds or fails on the sample event as a marketer would expect."""
    assert holds(when)[0] is expected


def test_failure_names_field_value_and_test() -> None:
    """The failure names the field, what it holds and the test it missed."""
    assert holds({"properties.plan": ["business", "starter"]})[1] == (
        "properties.plan is 'enterprise', not one of [business, starter]"
    )
    assert holds({"traits.phone": {"exists": True}})[1] == "traits.phone is missing"
    assert holds({"properties.seats": {"gt": 30}})[1] == "properties.seats is 25, not > 30"


def test_failure_masks_pii() -> None:
    """An email in a failing field is masked in the explanation."""
    failed = holds({"traits.email": {"prefix": "bob"}})[1]
    assert "jane.doe@acme.com" not in failed
    assert "j***@a***.com" in failed


def test_describe_reads_like_the_yaml() -> None:
    """describe() gives one readable line per condition."""
    when = CONDITION.validate_python(
        {"properties.plan": ["business", "enterprise"], "properties.seats": {"gte": 10}}
    )
    assert describe(when) == "properties.plan one of [business, enterprise], properties.seats >= 10"


@pytest.mark.parametrize(
    "when",
    [
        {},
        {"plan": "x"},  # no root segment
        {"properties..plan": "x"},
        {"properties.plan": {}},
        {"properties.plan": {"matches": "x"}},
        {"properties.plan": {"one_of": "x"}},
        {"properties.plan": {"gt": "ten"}},
        {"properties.plan": {"equals": None}},
    ],
)
def test_bad_conditions_are_refused(when: dict[str, Any]) -> None:
    """Malformed conditions fail validation instead of silently matching."""
    with pytest.raises(ValidationError):
        CONDITION.validate_python(when)


def test_glob_is_linear_on_hostile_patterns() -> None:
    """A pathological pattern finishes at once (no regex backtracking)."""
    text = "a" * 5000
    assert not glob_match("*a*a*a*a*a*a*a*a*b", text)
    assert glob_match("*", "")
    assert not glob_match("?", "")


def test_lookup_walks_mappings_and_lists() -> None:
    """lookup() follows dotted paths through mappings and list indexes, None when absent."""
    assert lookup(DATA, "context.page.path") == "/pricing/enterprise"
    assert lookup(DATA, "traits.tags.0") == "a"
    assert lookup(DATA, "traits.tags.9") is None
    assert lookup(DATA, "properties.plan.x") is None
