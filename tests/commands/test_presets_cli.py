"""`leadgate presets check|try|schema`: what marketing ops see on the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from leadgate.commands.presets import register
from leadgate.pipeline.presets import preset_json_schema
from tests.plugins.events import FIXTURES, LEAD_CAPTURE, build_event, consent, record


def run(argv: list[str]) -> int:
    """Run `leadgate <argv>` through the presets command's own parser; returns the exit code."""
    parser = argparse.ArgumentParser(prog="leadgate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_try_json_prints_the_seed_payload(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed stream prints one JSON line per event; the demo request carries the golden doc."""
    code = run(
        ["presets", "try", str(LEAD_CAPTURE), str(FIXTURES / "seed_example.jsonl"), "--json"]
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    golden = json.loads((FIXTURES / "seed_demo_requested.json").read_text())
    assert [(line["messageId"], line["outcome"], line["reason"]) for line in lines] == [
        ("seed-1-identify", "drop", "unmapped_event"),
        ("seed-2-page", "drop", "unmapped_event"),
        ("seed-3-demo", "send", None),
        ("seed-4-video", "drop", "unmapped_event"),
        ("seed-5-no-consent", "drop", "no_consent"),
    ]
    assert lines[2]["document"] == golden
    assert all(line["document"] is None for i, line in enumerate(lines) if i != 2)


def test_try_human_output_explains_each_event(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json each event gets a readable line with its reason or its document."""
    run(["presets", "try", str(LEAD_CAPTURE), str(FIXTURES / "seed_example.jsonl")])
    out = capsys.readouterr().out
    assert "seed-3-demo  track 'Demo Requested'  -> send" in out
    assert '"mobilePhones": [' in out
    assert "seed-5-no-consent  track 'Lead Submitted'  -> drop no_consent" in out


def test_try_applies_default_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--default-region turns national phone numbers into E.164 in the printed document."""
    event = build_event(
        "track",
        event="Signed Up",
        context={**consent("marketing"), "traits": {"email": "a@acme.com", "phone": "07700900123"}},
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(record(event) + b"\n\n")
    run(["presets", "try", str(LEAD_CAPTURE), str(events), "--json", "--default-region", "GB"])
    line = json.loads(capsys.readouterr().out)
    assert line["document"]["data"]["attributes"]["mobilePhones"] == ["+447700900123"]


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    """A good preset passes check with exit 0 and a one-line summary."""
    assert run(["presets", "check", str(LEAD_CAPTURE)]) == 0
    assert "ok ('Lead Capture': 4 events write to Outreach)" in capsys.readouterr().out


def test_check_reports_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check exits 1 and prints file:line: field: message for each bad file, good ones still ok."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(LEAD_CAPTURE.read_text().replace("tags: [Signal, lead]", "tags: [Signal, on]"))
    worse = tmp_path / "worse.yaml"
    worse.write_text("a: &x 1\nb: *x\n")
    assert run(["presets", "check", str(LEAD_CAPTURE), str(bad), str(worse)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:10: events.Lead Submitted.tags.1: expected text" in captured.err
    assert f"{worse}:1: yaml: anchors (&name) are not allowed" in captured.err
    assert "ok" in captured.out


def test_try_with_bad_preset_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """try refuses to run events through a preset that does not load."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert run(["presets", "try", str(bad), str(FIXTURES / "seed_example.jsonl")]) == 1
    assert f"{bad}:1: integration: Field required" in capsys.readouterr().err


def test_try_with_missing_events_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing events file is a clear error, not a traceback."""
    assert run(["presets", "try", str(LEAD_CAPTURE), str(tmp_path / "none.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """schema prints exactly what presets/schema.json must hold."""
    assert run(["presets", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == preset_json_schema()


ROUTING = LEAD_CAPTURE.parent / "outreach-demo-routing.yaml"


def test_try_shows_the_routing_plan_and_failed_conditions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """presets try names the rule that matched and its plan, without calling Outreach; a
    preset whose conditions all fail shows condition_not_met with the failed test."""
    seed = (FIXTURES / "seed_example.jsonl").read_text().splitlines()[:1]
    paid = build_event("track", userId="user-123", properties={"plan": "enterprise"})
    free = build_event("track", userId="user-123", properties={"plan": "free"})
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*seed, record(paid).decode(), record(free).decode()]) + "\n")
    assert run(["presets", "try", str(ROUTING), str(events), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[1]["condition"] == (
        "rule 'paid demo request': properties.plan one of [enterprise, business]"
    )
    assert lines[1]["routing"]["sequence"] == {"name": "Inbound Demo Request"}
    assert lines[1]["routing"]["owner"][0]["users"] == ["alice", "bob"]
    assert lines[2]["routing"].get("sequence") is None
    assert lines[2]["routing"]["stage"] == "Inbound"
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        "name: Strict\nintegration: outreach\nconsent: [marketing]\nmappings: {email: emails}\n"
        "events:\n  Demo Requested:\n"
        "    - {name: paid demo request, when: {properties.plan: [enterprise, business]},"
        " action: upsert_prospect}\n"
        "    - {name: never, when: {properties.plan: never}, action: drop}\n"
    )
    assert run(["presets", "try", str(strict), str(events)]) == 0
    text = capsys.readouterr().out
    assert (
        "drop condition_not_met: no rule applies: 'paid demo request': properties.plan is " in text
    )
    assert "'free', not one of [enterprise, business]; 'never': properties.plan is 'free'" in text
