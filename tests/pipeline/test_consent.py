"""The consent gate: all required categories, literal true only, every documented shape."""

from __future__ import annotations

import pytest

from leadgate.pipeline.consent import consent_granted, missing_consent, parse_consent

GRANTED = [
    ({"categories": {"marketing": True}}, "map"),
    ({"categories": ["marketing", "analytics"]}, "list"),
    ({"canonical": {"marketing": True}}, "canonical map"),
    ({"canonical": ["marketing"]}, "canonical list"),
    ({"categoryPreferences": {"marketing": True, "ads": False}}, "Segment categoryPreferences"),
]


@pytest.mark.parametrize(("consent", "shape"), GRANTED, ids=[g[1] for g in GRANTED])
def test_accepted_shapes_grant(consent: object, shape: str) -> None:
    """Each documented consent shape grants marketing when marketing is true/listed."""
    assert consent_granted(parse_consent(consent), ["marketing"])


# docs/reliability.md I2: missing, false, "false", 0, "yes", null, nested wrong type -> denied
DENIED = [
    (None, "missing"),
    ({}, "empty object"),
    ({"categories": {"marketing": False}}, "false"),
    ({"categories": {"marketing": "false"}}, "string false"),
    ({"categories": {"marketing": "true"}}, "string true"),
    ({"categories": {"marketing": 1}}, "one"),
    ({"categories": {"marketing": 0}}, "zero"),
    ({"categories": {"marketing": "yes"}}, "yes"),
    ({"categories": {"marketing": None}}, "null"),
    ({"categories": {"marketing": {"granted": True}}}, "nested object"),
    ({"categories": "marketing"}, "string instead of list"),
    ({"categories": [True]}, "list of booleans"),
    ({"categories": {"analytics": True}}, "other category only"),
    ("marketing", "consent is a string"),
    ([{"marketing": True}], "consent is a list"),
    ({"marketing": True}, "category at the top level"),
]


@pytest.mark.parametrize(("consent", "case"), DENIED, ids=[d[1] for d in DENIED])
def test_anything_but_literal_true_denies(consent: object, case: str) -> None:
    """Missing, unparseable or non-boolean consent never grants (fail closed)."""
    assert not consent_granted(parse_consent(consent), ["marketing"])


def test_every_required_category_must_be_granted() -> None:
    """With two required categories, granting one is not enough; missing names the other."""
    consent = parse_consent({"categories": {"marketing": True, "sales": False}})
    assert not consent_granted(consent, ["marketing", "sales"])
    assert missing_consent(consent, ["marketing", "sales"]) == ("sales",)
    assert consent_granted(consent, [])


def test_segment_preferences_win_over_other_keys() -> None:
    """categoryPreferences is read first when an event carries several shapes."""
    parsed = parse_consent(
        {"categoryPreferences": {"marketing": False}, "categories": {"marketing": True}}
    )
    assert parsed == {"marketing": False}
