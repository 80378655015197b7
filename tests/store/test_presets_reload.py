"""Presets hot reload: an edit is live within 2 s; a bad edit keeps the last good preset."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import time
from pathlib import Path

import orjson
import pytest
import structlog

from leadgate.domain.profile import Profile
from leadgate.errors import PresetError
from leadgate.observability.logging import configure_logging
from leadgate.observability.metrics import PRESET_ERROR
from leadgate.pipeline.process import process
from leadgate.store.presets import PresetReloader
from tests.plugins.events import LEAD_CAPTURE, build_event, consent


@pytest.fixture
def preset_file(tmp_path: Path) -> Path:
    """A writable copy of the shipped Lead Capture preset."""
    path = tmp_path / "lead-capture.yaml"
    shutil.copy(LEAD_CAPTURE, path)
    return path


def _outcome_of(reloader: PresetReloader, name: str) -> str:
    event = build_event(
        "track",
        event=name,
        context={"traits": {"email": "jane@acme.com"}, **consent("marketing")},
    )
    result = process(orjson.dumps(event), Profile(), reloader.current)
    return "sent" if result.sent else str(result.drop)


async def test_an_edit_is_live_within_two_seconds(preset_file: Path) -> None:
    """Mapping a new event in the file makes it a lead within 2 s, without a restart."""
    reloader = PresetReloader(preset_file)
    assert _outcome_of(reloader, "Webinar Joined") == "unmapped_event"
    text = preset_file.read_text().replace(  # noqa: ASYNC240 (a small file, before the clock runs)
        "events:\n", "events:\n  Webinar Joined: {action: upsert_prospect, tags: [webinar]}\n"
    )
    stop = asyncio.Event()
    watcher = asyncio.create_task(reloader.watch(stop, interval_s=1.0))
    try:
        await asyncio.sleep(0.1)
        edited_at = time.monotonic()
        preset_file.write_text(text)  # noqa: ASYNC240 (the edit under test)
        while _outcome_of(reloader, "Webinar Joined") != "sent":
            assert time.monotonic() - edited_at < 2.0, "the edit was not live within 2 s"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 5)
    assert reloader.reloads == 1
    assert reloader.last_error is None


def test_a_bad_edit_keeps_the_last_good_preset_and_says_why(preset_file: Path) -> None:
    """A broken file leaves the old preset live; the error names file and line, in the log and
    the metric; fixing the file clears it."""
    log = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(fmt="json", stream=log)
    reloader = PresetReloader(preset_file)
    good = preset_file.read_text()
    preset_file.write_text(good.replace("Demo Requested: {", "Demo Requested: {{"))
    try:
        assert reloader.reload_if_changed() is False
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved
    assert reloader.current.name == "Lead Capture"
    assert _outcome_of(reloader, "Demo Requested") == "sent"
    assert reloader.last_error is not None
    assert "lead-capture.yaml:" in reloader.last_error
    assert PRESET_ERROR.labels(preset=preset_file.name)._value.get() == 1
    line = next(orjson.loads(raw) for raw in log.getvalue().splitlines() if "reload" in raw)
    assert line["event"] == "presets.reload.error"
    assert line["kept"] == "Lead Capture"

    preset_file.write_text(good.replace("[Signal, demo-request]", "[Signal, demo]"))
    assert reloader.reload_if_changed() is True
    assert reloader.last_error is None
    assert reloader.current.events["Demo Requested"][0].tags == ("Signal", "demo")
    assert PRESET_ERROR.labels(preset=preset_file.name)._value.get() == 0


def test_a_bad_file_at_start_stops_start_up(preset_file: Path) -> None:
    """There is no last good version at start-up: a broken file is an error, not a silent drop."""
    preset_file.write_text("name: [unclosed\n")
    with pytest.raises(PresetError):
        PresetReloader(preset_file)
