"""Per-event checks and enrichment (docs/reliability.md H12, H14-H16, H28-H30)."""

from __future__ import annotations

import uuid

import aiohttp
import orjson
import pytest

from leadgate.http.events import prepare_event
from leadgate.http.rejection import RejectCode, Rejection
from leadgate.settings import CollectorSettings
from tests.plugins.collector import WRITE_KEY, CollectorHandle, basic

RECEIVED = "2026-01-02T03:04:05.678Z"


def prepare(event: object, kind: str | None = None) -> bytes:
    """The record value the collector would produce for ``event``."""
    prepared = prepare_event(
        event, kind=kind, source="web", received_at=RECEIVED, settings=CollectorSettings()
    )
    return prepared.value


def track(**extra: object) -> dict[str, object]:
    """A small valid track event for a batch."""
    return {"type": "track", "anonymousId": "a-1", "event": "Lead Submitted", **extra}


async def test_batch_with_invalid_events_produces_the_valid_ones(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A batch mixing valid and invalid events gets 200 with per-index errors, and only the
    valid events reach Kafka (H12)."""
    batch = [
        track(messageId="good-0"),
        {"type": "track", "event": "No Identity"},
        "not an object",
        track(messageId="good-3"),
        {"type": "teleport", "anonymousId": "a"},
        track(event=""),
        track(messageId="x" * 101),
        track(userId=42),
        track(properties=[1, 2]),
    ]
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
        body = await r.json()
    assert body["success"] is True
    assert body["accepted"] == 2
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "missing_identity"),
        (2, "invalid_shape"),
        (4, "invalid_type"),
        (5, "invalid_event_name"),
        (6, "invalid_message_id"),
        (7, "invalid_identity"),
        (8, "invalid_field"),
    ]
    ids = sorted(rec.value["messageId"] for rec in await collector.records())
    assert ids == ["good-0", "good-3"]


async def test_single_invalid_event_is_a_400(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """On a single endpoint an invalid event is refused with its code and nothing produced."""
    async with http.post(
        f"{collector.url}/v1/track", json={"event": "X"}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "missing_identity"
    assert await collector.records() == []


def test_missing_message_id_is_generated_and_given_one_is_kept() -> None:
    """A missing messageId becomes a UUID4; a client's messageId is kept as is (H14)."""
    generated = orjson.loads(prepare(track()))["messageId"]
    assert uuid.UUID(generated).version == 4
    assert orjson.loads(prepare(track(messageId="client-id-1")))["messageId"] == "client-id-1"


@pytest.mark.parametrize(
    "message_id", ["x" * 101, "line\nbreak", "tab\there", "nul\x00", "", 42, ["a"]]
)
def test_bad_message_ids_are_refused(message_id: object) -> None:
    """A messageId over 100 chars, with control characters, or not a string is refused (H15)."""
    with pytest.raises(Rejection) as caught:
        prepare(track(messageId=message_id))
    assert caught.value.code is RejectCode.INVALID_MESSAGE_ID


def test_message_id_of_100_chars_is_kept() -> None:
    """Exactly 100 printable characters is a valid messageId (H15 boundary)."""
    assert orjson.loads(prepare(track(messageId="m" * 100)))["messageId"] == "m" * 100


async def test_reused_message_id_is_produced_with_its_source(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A messageId reused with another payload is not deduplicated at the edge: both records
    carry their source's name, so the processor can scope dedupe to (source, messageId) (H16)."""
    for properties in ({"v": 1}, {"v": 2}):
        event = track(messageId="same-id", properties=properties)
        async with http.post(
            f"{collector.url}/v1/track", json=event, headers=basic(WRITE_KEY)
        ) as r:
            assert r.status == 200
    records = await collector.records()
    assert [rec.value["properties"]["v"] for rec in records] == [1, 2]
    assert {rec.value["context"]["leadgate"]["source"] for rec in records} == {"web"}


async def test_unknown_event_name_is_accepted(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """An event name no preset maps is still accepted: mapping is the processor's call (H28)."""
    event = track(event="Some Event Nobody Mapped")
    async with http.post(f"{collector.url}/v1/track", json=event, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200


@pytest.mark.parametrize(
    "name",
    ["x" * 201, "tab\tname", "bell\x07", "rtl\u202eoverride", "   ", "line\r\nSet-Cookie: a"],
)
def test_bad_event_names_are_refused(name: str) -> None:
    """Event names over 200 chars, with control or bidi-override characters, or blank are
    refused (H29)."""
    with pytest.raises(Rejection) as caught:
        prepare(track(event=name))
    assert caught.value.code is RejectCode.INVALID_EVENT_NAME


def test_event_name_of_200_chars_is_accepted() -> None:
    """A 200-character event name is accepted (H29 boundary)."""
    assert orjson.loads(prepare(track(event="e" * 200)))["event"] == "e" * 200


@pytest.mark.parametrize(
    "timestamp", ["2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "yesterday", 1700000000000]
)
def test_client_timestamps_are_kept_and_receive_time_is_the_servers(timestamp: object) -> None:
    """A far-future, ancient, non-ISO or epoch-ms timestamp is kept verbatim, and receivedAt is
    always the server's, whatever the client sent (H30)."""
    value = orjson.loads(prepare(track(timestamp=timestamp, receivedAt="1999-01-01T00:00:00Z")))
    assert value["timestamp"] == timestamp
    assert value["receivedAt"] == RECEIVED


def test_record_size_boundary() -> None:
    """A record of exactly 32 KB as produced is accepted; one byte more is refused (P5)."""
    limit = CollectorSettings().max_event_bytes
    base = track(messageId="m-1", properties={"pad": ""})
    overhead = len(prepare(base))
    at_limit = track(messageId="m-1", properties={"pad": "x" * (limit - overhead)})
    assert len(prepare(at_limit)) == limit
    over = track(messageId="m-1", properties={"pad": "x" * (limit - overhead + 1)})
    with pytest.raises(Rejection) as caught:
        prepare(over)
    assert caught.value.code is RejectCode.EVENT_TOO_LARGE


def test_client_cannot_spoof_its_source() -> None:
    """A context.leadgate sent by the client is replaced by the server's source name, and a
    writeKey inside an event is never stored."""
    event = track(context={"leadgate": {"source": "admin"}, "ip": "1.2.3.4"}, writeKey="secret")
    value = orjson.loads(prepare(event))
    assert value["context"] == {"leadgate": {"source": "web"}, "ip": "1.2.3.4"}
    assert "writeKey" not in value


def test_depth_limit_applies_per_event() -> None:
    """An event nested deeper than 32 levels is refused as too_deep; 32 levels are accepted, and
    braces inside strings do not count (H8)."""

    def nested(levels: int) -> dict[str, object]:
        value: dict[str, object] = {"leaf": "{[{[{[" * 20}
        for _ in range(levels - 2):  # the event is one level, the leaf object another
            value = {"n": value}
        return track(properties=value)

    assert orjson.loads(prepare(nested(32)))["type"] == "track"
    with pytest.raises(Rejection) as caught:
        prepare(nested(33))
    assert caught.value.code is RejectCode.TOO_DEEP


async def test_deep_event_in_batch_is_refused_alone(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """Inside a batch, an over-deep event is refused by index and the others are produced (H8)."""
    deep: dict[str, object] = {"x": 1}
    for _ in range(40):
        deep = {"n": deep}
    batch = [track(messageId="flat"), track(messageId="deep", properties=deep)]
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
    ) as r:
        body = await r.json()
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "too_deep")]
    assert [rec.value["messageId"] for rec in await collector.records()] == ["flat"]
