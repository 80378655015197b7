"""Event factories: Segment-spec identify/track/page dicts with overrides; the shipped preset."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from leadgate.pipeline.presets import Preset, load_preset

ROOT = Path(__file__).resolve().parents[2]
LEAD_CAPTURE = ROOT / "presets" / "outreach-lead-capture.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
_counter = itertools.count(1)

EventFactory = Callable[..., dict[str, Any]]


def _base(kind: str) -> dict[str, Any]:
    n = next(_counter)
    return {
        "type": kind,
        "messageId": f"msg-{kind}-{n}",
        "anonymousId": f"anon-{n}",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "receivedAt": "2026-11-23T10:00:00.100Z",
        "context": {},
    }


def build_event(kind: str = "track", **overrides: Any) -> dict[str, Any]:
    """A valid event of ``kind`` (unique ids); keys overridden with None are removed."""
    event = _base(kind)
    if kind == "identify":
        event["userId"] = "user-123"
        event["traits"] = {"email": "jane.doe@acme.com", "firstName": "Jane", "lastName": "Doe"}
    elif kind == "track":
        event["event"] = "Demo Requested"
        event["properties"] = {}
    elif kind == "page":
        event["name"] = "Pricing"
        event["properties"] = {"path": "/pricing"}
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def record(event: dict[str, Any]) -> bytes:
    """The Kafka record value of an event (the collector's JSON)."""
    return orjson.dumps(event)


@pytest.fixture
def make_event() -> EventFactory:
    """Factory: ``make_event(kind="track", **overrides)`` builds one Segment event dict."""
    return build_event


@pytest.fixture
def make_identify() -> EventFactory:
    """Factory: an identify for user-123 (Jane Doe at acme.com), overridable."""
    return lambda **overrides: build_event("identify", **overrides)


@pytest.fixture
def make_track() -> EventFactory:
    """Factory: a ``Demo Requested`` track, overridable (``event=``, ``properties=``, ...)."""
    return lambda **overrides: build_event("track", **overrides)


@pytest.fixture
def make_page() -> EventFactory:
    """Factory: a page view, overridable."""
    return lambda **overrides: build_event("page", **overrides)


@pytest.fixture(scope="session")
def lead_capture() -> Preset:
    """The shipped Lead Capture preset (presets/outreach-lead-capture.yaml)."""
    return load_preset(LEAD_CAPTURE)


def consent(*granted: str) -> dict[str, Any]:
    """A ``context`` granting exactly these categories (map form)."""
    return {"consent": {"categories": dict.fromkeys(granted, True)}}
