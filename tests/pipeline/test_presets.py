"""Presets: the shipped file, strict and safe loading, errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadgate.errors import PresetError
from leadgate.pipeline.presets import Preset, load_preset, parse_preset, preset_json_schema
from tests.plugins.events import LEAD_CAPTURE, ROOT

BASE = LEAD_CAPTURE.read_text()


def errors_of(text: str | bytes) -> list[str]:
    """The error lines a preset text produces (fails the test if it loads)."""
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(PresetError) as info:
        parse_preset(data, "p.yaml")
    return info.value.errors


def test_shipped_preset_is_the_datafly_lead_capture_table(lead_capture: Preset) -> None:
    """Exactly the four Lead Capture events with their tags; everything else is dropped."""
    assert lead_capture.name == "Lead Capture"
    assert lead_capture.consent == ("marketing",)
    assert lead_capture.defaults.action == "drop"
    assert {name: rules[0].tags for name, rules in lead_capture.events.items()} == {
        "Lead Submitted": ("Signal", "lead"),
        "Form Submitted": ("Signal", "form"),
        "Signed Up": ("Signal", "signup"),
        "Demo Requested": ("Signal", "demo-request"),
    }
    assert lead_capture.rule_for("Video Played") is None
    assert dict(lead_capture.mappings) == {
        "email": ("emails",),
        "firstName": ("firstName",),
        "lastName": ("lastName",),
        "name": ("name",),
        "title": ("title", "occupation"),
        "company": ("company",),
        "phone": ("mobilePhones",),
        "city": ("addressCity",),
        "state": ("addressState",),
        "country": ("addressCountry",),
    }


def test_every_shipped_preset_loads() -> None:
    """Every YAML file in presets/ is a valid preset."""
    paths = sorted((ROOT / "presets").glob("*.yaml"))
    assert paths
    for path in paths:
        load_preset(path)


def test_schema_json_is_current() -> None:
    """presets/schema.json equals the model's schema (run `make schema` after changing it)."""
    shipped = json.loads((ROOT / "presets" / "schema.json").read_text())
    assert shipped == preset_json_schema(), "presets/schema.json is stale: run `make schema`"


def test_explicit_drop_rule_drops(lead_capture: Preset) -> None:
    """An event listed with action drop is not sent."""
    preset = parse_preset(
        BASE.replace("Signed Up:      {action: upsert_prospect, tags: [Signal, signup]}",
                     "Signed Up: {action: drop}").encode(), "p.yaml")  # fmt: skip
    assert preset.rule_for("Signed Up") is None


LEAD = "tags: [Signal, lead]"
RULE = "  Signed Up:"


def tags(value: str) -> str:
    """The base preset with Lead Submitted's tags replaced."""
    return BASE.replace(LEAD, f"tags: {value}")


BAD: list[tuple[str, str | bytes, list[str]]] = [
    (
        "Y1 syntax error",
        BASE.replace("events:", "events: [\n"),
        ["p.yaml:12: yaml: while parsing a flow sequence, expected ',' or ']'"],
    ),
    (
        "Y1 tab indent",
        BASE.replace(RULE, "\tSigned Up:"),
        ["p.yaml:12: yaml: while scanning for the next token, found character '\\t'"],
    ),
    ("Y1 invalid utf-8", b"name: Lead\nintegration: \xff\n", ["p.yaml:2: yaml: the file is not"]),
    ("Y3 alias", BASE + "extra: &a [x]\nmore: *a\n", ["p.yaml:25: yaml: anchors (&name)"]),
    (
        "Y4 duplicate key",
        BASE.replace(RULE, "  Form Submitted: {action: drop}\n" + RULE),
        ["p.yaml:12: yaml: duplicate key 'Form Submitted'"],
    ),
    ("Y4 duplicate top key", BASE + "name: Other\n", ["p.yaml:25: yaml: duplicate key 'name'"]),
    (
        "Y5 tags as text",
        tags("Signal"),
        ["p.yaml:10: events.Lead Submitted.tags: expected a list such as [a, b], but got text"],
    ),
    (
        "Y5 numeric event name",
        BASE.replace(RULE, "  123:"),
        [
            "p.yaml:12: events.123: expected text, but YAML read 123 as a number; write it in "
            'quotes: "123"'
        ],
    ),
    (
        "Y5 unknown action",
        BASE.replace("action: upsert_prospect, " + LEAD, "action: create"),
        [
            "p.yaml:10: events.Lead Submitted.action: Input should be 'upsert_prospect', "
            "'upsert_opportunity' or 'drop'"
        ],
    ),
    (
        "Y5 unknown field",
        BASE.replace("name: Lead Capture", "name: Lead Capture\nnmae: x"),
        ["p.yaml:6: nmae: unknown field"],
    ),
    (
        "Y5 unknown rule field",
        tags("[Signal], tag: x"),
        ["p.yaml:10: events.Lead Submitted.tag: unknown field"],
    ),
    (
        "Y5 missing field",
        BASE.replace("integration: outreach\n", ""),
        ["p.yaml:5: integration: Field required"],
    ),
    (
        "Y5 unknown attribute",
        BASE.replace("city: addressCity", "city: addresscity"),
        ["p.yaml:22: mappings.city: 'addresscity' is not a prospect attribute"],
    ),
    (
        "Y5 email not to emails",
        BASE.replace("email: emails", "email: company"),
        ["p.yaml:15: mappings.email: must map to emails"],
    ),
    (
        "Y6 tag on",
        tags("[Signal, on]"),
        [
            "p.yaml:10: events.Lead Submitted.tags.1: expected text, but YAML read on as a "
            'boolean; write it in quotes: "on"'
        ],
    ),
    ("Y6 tag yes", tags("[Signal, yes]"), ["read yes as a boolean"]),
    ("Y6 tag 010", tags("[Signal, 010]"), ["read 010 as a number"]),
    ("Y6 tag 1.5e3", tags("[Signal, 1.5e+3]"), ["read 1.5e+3 as a number"]),
    (
        "Y6 consent no",
        BASE.replace("consent: [marketing]", "consent: no"),
        ["p.yaml:7: consent: expected a list such as [a, b], but YAML read no as a boolean"],
    ),
    ("Y6 event name on", BASE.replace(RULE, "  on:"), ["p.yaml:12: events.on: expected text"]),
    (
        "Y6 name as date",
        BASE.replace("name: Lead Capture", "name: 2026-01-01"),
        ["read 2026-01-01 as a date"],
    ),
    (
        "Y8 empty tag",
        tags("[Signal, '']"),
        ["p.yaml:10: events.Lead Submitted.tags.1: must not be"],
    ),
    ("Y8 long tag", tags(f"[Signal, {'x' * 256}]"), ["String should have at most 255 characters"]),
    ("Y8 control char tag", tags('[Signal, "a\\u0007b"]'), ["must not contain control characters"]),
    ("Y8 padded tag", tags('[Signal, " lead"]'), ["must not start or end with spaces"]),
    (
        "Y10 over 1 MB",
        "name: " + "x" * (1024 * 1024),
        ["p.yaml:1: yaml: the file is 1048582 bytes"],
    ),
    ("not a mapping", "- a\n- b\n", ["p.yaml:1: (preset): a preset is a mapping of fields"]),
    ("empty file", "", ["p.yaml:1: (preset): a preset is a mapping of fields"]),
    (
        "two documents",
        BASE + "---\nname: x\n",
        ["p.yaml:25: yaml: expected a single document in the stream, but found another"],
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_presets_fail_with_file_line_field(
    case: str, text: str | bytes, expected: list[str]
) -> None:
    """Each bad preset fails to load, and each error line starts as expected."""
    errors = errors_of(text)
    assert len(errors) == len(expected), errors
    for line, start in zip(errors, expected, strict=True):
        assert line.startswith(start) or start in line, line


def test_all_schema_errors_are_reported_at_once() -> None:
    """Several schema problems in one file give one line each, in file order."""
    text = BASE.replace("consent: [marketing]", "consent: yes").replace(
        "tags: [Signal, lead]", "tags: [Signal, no]"
    )
    errors = errors_of(text)
    assert [error.split(":")[1] for error in errors] == ["7", "10"]


def test_quoted_yaml_words_stay_strings() -> None:
    """Y6: a quoted "on" tag stays the string "on"."""
    preset = parse_preset(BASE.replace("tags: [Signal, lead]", 'tags: [Signal, "on", \'010\']')
                          .encode(), "p.yaml")  # fmt: skip
    assert preset.events["Lead Submitted"][0].tags == ("Signal", "on", "010")


def test_python_tags_are_rejected_and_never_executed(tmp_path: Path) -> None:
    """Y2: a !!python/object/apply tag is refused before anything is constructed."""
    marker = tmp_path / "pwned"
    inner = f"!!python/object/apply:pathlib.Path [{str(marker)!r}]"
    text = BASE + f"evil: !!python/object/apply:pathlib.Path.touch [{inner}]\n"
    errors = errors_of(text)
    assert errors[0].startswith("p.yaml:25: yaml: the tag tag:yaml.org,2002:python/object/apply")
    assert not marker.exists()


def test_billion_laughs_is_rejected_at_its_first_anchor() -> None:
    """Y3: an alias bomb is refused at its first anchor, before any alias is expanded."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    errors = errors_of("\n".join(lines))
    assert errors == ["p.yaml:1: yaml: anchors (&name) are not allowed in presets"]


def test_event_names_match_exactly_so_patterns_cannot_backtrack() -> None:
    """Y7: a regex-looking event name is a literal name, never compiled as a pattern."""
    preset = parse_preset(BASE.replace("  Signed Up:", '  "(a+)+$":').encode(), "p.yaml")
    assert preset.rule_for("a" * 50_000 + "!") is None
    assert preset.rule_for("(a+)+$") is not None


def test_deep_nesting_is_rejected() -> None:
    """Pathologically nested YAML is an error, never a crash."""
    errors = errors_of("name: " + "[" * 5000 + "]" * 5000)
    assert errors[0].startswith("p.yaml:1: yaml: nested")


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    """A missing preset file is a PresetError naming the file."""
    with pytest.raises(PresetError) as info:
        load_preset(tmp_path / "missing.yaml")
    assert info.value.errors[0].startswith(f"{tmp_path / 'missing.yaml'}:1: (file): cannot read")
