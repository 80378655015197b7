"""``leadgate presets diff OLD NEW --recent N``: the outcomes of real recent events, compared."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from leadgate.cli import main
from leadgate.store.traces import TraceStore
from tests.plugins.events import FIXTURES, LEAD_CAPTURE, build_event, consent


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A state dir whose inspector store holds the seed example plus a webinar sign-up."""
    state = tmp_path / "state"
    store = TraceStore(state)
    lines = (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()
    webinar = build_event(
        "track",
        messageId="webinar-1",
        event="Webinar Joined",
        context={"traits": {"email": "ada@engines.io"}, **consent("marketing")},
    )
    for raw in [*lines, orjson.dumps(webinar)]:
        store.add_event(orjson.loads(raw)["messageId"], raw)
    store.close()
    return state


@pytest.fixture
def new_preset(tmp_path: Path) -> Path:
    """The shipped preset with Webinar Joined mapped and the demo tag renamed."""
    text = LEAD_CAPTURE.read_text()
    text = text.replace(
        "events:\n", "events:\n  Webinar Joined: {action: upsert_prospect, tags: [webinar]}\n"
    ).replace("[Signal, demo-request]", "[Signal, demo]")
    path = tmp_path / "new.yaml"
    path.write_text(text)
    return path


def test_diff_counts_outcomes_and_lists_moving_events(
    state_dir: Path, new_preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report counts per outcome, names the event that moves and the changed document, and
    masks emails."""
    code = main(
        ["presets", "diff", str(LEAD_CAPTURE), str(new_preset), "--state-dir", str(state_dir)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Replayed 6 recent events" in out
    assert "webinar-1  'Webinar Joined'  a***@e***.io  dropped: unmapped_event -> sent" in out
    assert "seed-3-demo" in out
    assert "tags: ['Signal', 'demo-request'] -> ['Signal', 'demo']" in out
    assert "ada@engines.io" not in out
    assert "jane.doe@acme.com" not in out


def test_diff_json_and_recent_window(
    state_dir: Path, new_preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` gives per-version counts; ``--recent 1`` replays only the newest event."""
    argv = ["presets", "diff", str(LEAD_CAPTURE), str(new_preset), "--state-dir", str(state_dir)]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == 6
    assert report["old"]["sent"] + 1 == report["new"]["sent"]
    assert report["old"]["dropped: unmapped_event"] - 1 == report["new"]["dropped: unmapped_event"]
    assert [m["messageId"] for m in report["moves"]] == ["webinar-1"]

    assert main([*argv, "--json", "--recent", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 1


def test_diff_without_recent_events_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty state dir is an error that says where the events come from."""
    argv = ["presets", "diff", str(LEAD_CAPTURE), str(LEAD_CAPTURE)]
    assert main([*argv, "--state-dir", str(tmp_path / "none")]) == 1
    assert "no recent events" in capsys.readouterr().err
