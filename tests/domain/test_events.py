"""Decoding Segment events: good events route cheaply, malformed records become Drop(malformed)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from leadgate.domain.events import (
    MAX_EVENT_BYTES,
    EventHead,
    IdentifyEvent,
    IgnoredEvent,
    PageEvent,
    TrackEvent,
    decode,
    parse_event,
)
from leadgate.domain.outcome import Drop
from leadgate.domain.reasons import DropReason
from tests.plugins.events import EventFactory, build_event, record


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("identify", IdentifyEvent),
        ("track", TrackEvent),
        ("page", PageEvent),
        ("alias", IgnoredEvent),
        ("group", IgnoredEvent),
        ("screen", IgnoredEvent),
    ],
)
def test_every_segment_type_parses(kind: str, model: type[Any]) -> None:
    """identify/track/page parse to their models; alias/group/screen are tolerated."""
    parsed = parse_event(record(build_event(kind)))
    assert isinstance(parsed, model)


def test_head_carries_routing_fields(make_track: EventFactory) -> None:
    """The cheap head names the type, event, ids and identities (userId first)."""
    head = decode(record(make_track(userId="u1", anonymousId="a1", messageId="m1")))
    assert isinstance(head, EventHead)
    assert (head.type, head.name, head.message_id) == ("track", "Demo Requested", "m1")
    assert head.identities == ("user:u1", "anon:a1")
    assert head.received_at == "2026-11-23T10:00:00.100Z"


def test_identify_model_reads_traits_and_context(make_identify: EventFactory) -> None:
    """identify exposes traits, context.traits and context.consent."""
    event = parse_event(
        record(make_identify(context={"traits": {"city": "London"}, "consent": {"x": 1}}))
    )
    assert isinstance(event, IdentifyEvent)
    assert event.traits["email"] == "jane.doe@acme.com"
    assert event.context.traits == {"city": "London"}
    assert event.context.consent == {"x": 1}


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not json", b"{not json", "not valid JSON"),
    ("truncated", b'{"type": "track"', "not valid JSON"),
    ("invalid utf-8", b'{"type": "\xff"}', "not valid JSON"),
    ("array", b"[1, 2]", "must be a JSON object"),
    ("null", b"null", "must be a JSON object"),
    ("no type", orjson.dumps({"userId": "u"}), "no type"),
    ("type not text", orjson.dumps({"type": 3, "userId": "u"}), "no type"),
    ("unknown type", orjson.dumps({"type": "purchase", "userId": "u"}), "unknown type"),
    ("no ids", orjson.dumps({"type": "page"}), "neither userId nor anonymousId"),
    ("empty ids", orjson.dumps({"type": "page", "userId": "", "anonymousId": None}), "neither"),
    ("userId number", orjson.dumps({"type": "page", "userId": 42}), "userId must be a string"),
    ("messageId list", orjson.dumps({"type": "page", "userId": "u", "messageId": []}), "messageId"),
    ("context list", orjson.dumps({"type": "page", "userId": "u", "context": []}), "context"),
    ("traits text", orjson.dumps({"type": "identify", "userId": "u", "traits": "x"}), "traits"),
    ("track without name", orjson.dumps({"type": "track", "userId": "u"}), "event name"),
    ("blank name", orjson.dumps({"type": "track", "userId": "u", "event": " "}), "event name"),
    ("long name", orjson.dumps({"type": "track", "userId": "u", "event": "x" * 201}), "longer"),
]


@pytest.mark.parametrize(("case", "raw", "detail"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_records_drop_with_a_detail(case: str, raw: bytes, detail: str) -> None:
    """Each malformed shape becomes Drop(malformed) whose detail says what is wrong."""
    result = parse_event(raw)
    assert isinstance(result, Drop)
    assert result.reason is DropReason.MALFORMED
    assert detail in result.detail


def test_oversized_event_is_malformed(make_track: EventFactory) -> None:
    """An event over 32 KB is dropped before it is even parsed."""
    raw = record(make_track(properties={"blob": "x" * MAX_EVENT_BYTES}))
    result = decode(raw)
    assert isinstance(result, Drop)
    assert "limit is 32768" in result.detail


def test_wrong_nested_type_found_by_full_validation(make_identify: EventFactory) -> None:
    """Full validation rejects wrong types the cheap head does not look at."""
    result = parse_event(record(make_identify(timestamp=12345)))
    assert isinstance(result, Drop)
    assert result.reason is DropReason.MALFORMED
    assert result.detail.startswith("timestamp")
