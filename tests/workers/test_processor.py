"""The processor on the embedded broker: leads keyed by email, traces, dedupe, poison records,
preset hot reload."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest_asyncio

from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.runtime.services import started_producer
from leadgate.settings import KafkaSettings, Settings
from leadgate.store.memory import MemoryStore
from leadgate.store.presets import PresetReloader
from leadgate.workers.processor import Processor
from tests.plugins.streams import (
    PRESET,
    identify,
    key_of,
    lag,
    produce,
    read_topic,
    track,
    wait_for,
)


@pytest_asyncio.fixture
async def running(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> AsyncIterator[tuple[Settings, Processor]]:
    """A processor on this test's topics with an in-memory store and a preset copy it may edit."""
    preset = tmp_path / "preset.yaml"
    shutil.copy(PRESET, preset)
    settings = Settings(
        kafka=kafka_settings,
        pipeline={"presets": (preset,), "presets_poll_s": 0.1},
    )
    stop = asyncio.Event()
    async with started_producer(settings) as producer:
        processor = Processor(
            settings,
            MemoryStore(),
            producer,
            PresetReloader(preset),
            DeadLetterWriter(producer, kafka_settings),
        )
        task = asyncio.create_task(processor.run(stop))
        yield settings, processor
        stop.set()
        await task


async def _events(settings: Settings, *events: dict[str, Any]) -> None:
    await produce(
        settings.kafka.bootstrap_servers,
        settings.kafka.events_topic,
        [(key_of(e), orjson.dumps(e)) for e in events],
    )


async def _traces(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in await read_topic(settings.kafka.bootstrap_servers, settings.kafka.traces_topic):
        trace = orjson.loads(record.value)
        assert record.key.decode() == trace["messageId"]
        by_id.setdefault(trace["messageId"], []).append(trace)
    return by_id


async def test_identify_then_track_becomes_one_lead_keyed_by_email(
    running: tuple[Settings, Processor],
) -> None:
    """The seed's identify + Demo Requested yields one lead intent keyed by the normalised email,
    and a trace for each event (identify dropped as unmapped, the track pending delivery)."""
    settings, _ = running
    who = identify("u-1", "Jane.Doe@ACME.com", company="Acme Inc")
    demo = track("u-1", "Demo Requested")
    await _events(settings, who, demo)

    async def traced() -> bool:
        return len(await _traces(settings)) == 2

    await wait_for(traced, timeout_s=30)
    leads = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.delivery_topic)
    assert len(leads) == 1
    lead = orjson.loads(leads[0].value)
    assert leads[0].key == b"jane.doe@acme.com"
    assert lead["email"] == "jane.doe@acme.com"
    assert lead["tags"] == ["Signal", "demo-request"]
    assert lead["message_ids"] == [demo["messageId"]]
    traces = await _traces(settings)
    assert traces[who["messageId"]][0]["reason"] == "unmapped_event"
    assert traces[demo["messageId"]][0]["outcome"] == "pending"


async def test_repeated_message_id_is_dropped_as_duplicate(
    running: tuple[Settings, Processor],
) -> None:
    """An event delivered twice (same messageId) produces one lead; the repeat is traced as
    ``duplicate_message``."""
    settings, _ = running
    who = identify("u-2", "sam@example.org")
    demo = track("u-2", "Lead Submitted")
    await _events(settings, who, demo)
    await _events(settings, demo)

    async def three_traces() -> bool:
        return sum(len(v) for v in (await _traces(settings)).values()) == 3

    await wait_for(three_traces, timeout_s=30)
    reasons = [t["reason"] for t in (await _traces(settings))[demo["messageId"]]]
    assert reasons == [None, "duplicate_message"]
    leads = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.delivery_topic)
    assert len(leads) == 1


async def test_only_events_whose_repeat_would_harm_are_remembered(
    running: tuple[Settings, Processor],
) -> None:
    """The messageIds of an identify that changed the profile and of a lead are remembered; a
    page view (unmapped, nothing new) is not: its repeat is processed again to the same drop,
    with no lead, instead of growing the store."""
    settings, processor = running
    who = identify("u-9", "lee@example.org")
    page = {**track("u-9", "Pricing Viewed"), "type": "page", "name": "Pricing"}
    page.pop("event")
    demo = track("u-9", "Lead Submitted")
    await _events(settings, who, page, demo)
    await _events(settings, page, demo)

    async def five_traces() -> bool:
        return sum(len(v) for v in (await _traces(settings)).values()) == 5

    await wait_for(five_traces, timeout_s=30)
    traces = await _traces(settings)
    assert [t["reason"] for t in traces[page["messageId"]]] == ["unmapped_event"] * 2
    assert [t["reason"] for t in traces[demo["messageId"]]] == [None, "duplicate_message"]
    store = processor._store
    ids = [who["messageId"], page["messageId"], demo["messageId"]]
    assert await store.seen(ids) == {who["messageId"], demo["messageId"]}
    leads = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.delivery_topic)
    assert len(leads) == 1


async def test_poison_records_are_dead_lettered_and_the_partition_keeps_flowing(
    running: tuple[Settings, Processor],
) -> None:
    """K1 (not JSON), K2 (newer schema) go to the dead-letter topic with their headers, K3
    (empty) is skipped; the good events behind them on the same partition are processed and
    every offset is committed."""
    settings, _ = running
    kafka = settings.kafka
    who = identify("u-3", "kim@example.org")
    demo = track("u-3", "Signed Up")
    newer = {**track("u-3", "Signed Up"), "version": 99}
    key = key_of(who)
    await produce(
        kafka.bootstrap_servers,
        kafka.events_topic,
        [
            (key, b"\x00\xffnot json{"),
            (key, orjson.dumps(newer)),
            (key, b""),
            (key, orjson.dumps(who)),
            (key, orjson.dumps(demo)),
        ],
    )

    async def delivered() -> bool:
        return len(await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)) == 1

    await wait_for(delivered, timeout_s=30)
    letters = await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic)
    assert [r.value for r in letters] == [b"\x00\xffnot json{", orjson.dumps(newer)]
    headers = [{k: v.decode() for k, v in r.headers} for r in letters]
    assert [h["leadgate.error.reason"] for h in headers] == ["deserialize", "unsupported_schema"]
    for h, offset in zip(headers, ("0", "1"), strict=True):
        assert h["leadgate.error.stage"] == "deserialize"
        assert h["leadgate.error.topic"] == kafka.events_topic
        assert h["leadgate.error.offset"] == offset
        assert h["leadgate.error.attempts"] == "1"
    assert all(r.key == key for r in letters)

    async def committed() -> bool:
        return await lag(kafka.bootstrap_servers, kafka.processor_group, kafka.events_topic) == 0

    await wait_for(committed, timeout_s=15)


async def test_preset_edit_is_live_without_restart(
    running: tuple[Settings, Processor],
) -> None:
    """Mapping a new event name in the preset file makes the next such event a lead."""
    settings, processor = running
    path = settings.pipeline.presets[0]
    text = path.read_text().replace(
        "  Demo Requested:",
        "  Pricing Viewed: {action: upsert_prospect, tags: [pricing]}\n  Demo Requested:",
    )
    path.write_text(text)

    async def reloaded() -> bool:
        return "Pricing Viewed" in processor.presets.current.events

    await wait_for(reloaded, timeout_s=10)
    await _events(settings, identify("u-4", "lee@example.org"), track("u-4", "Pricing Viewed"))

    async def lead() -> bool:
        kafka = settings.kafka
        return len(await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)) == 1

    await wait_for(lead, timeout_s=30)
    kafka = settings.kafka
    [record] = await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)
    intent = orjson.loads(record.value)
    assert intent["event"] == "Pricing Viewed"
    assert "pricing" in intent["tags"]
