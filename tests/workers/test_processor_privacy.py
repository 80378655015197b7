"""The processor's privacy gate on the embedded broker: a forgotten person's events are dropped as
``suppressed`` before any state is written, whichever identifier (userId, anonymousId, email)
matches; profiles holding an email are indexed so a forget by email finds them."""

from __future__ import annotations

import asyncio
import uuid
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
from leadgate.workers.privacy_gate import PrivacyGate
from leadgate.workers.processor import Processor
from tests.plugins.streams import PRESET, identify, key_of, produce, read_topic, track, wait_for


@pytest_asyncio.fixture
async def running(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> AsyncIterator[tuple[Settings, MemoryStore, PrivacyGate]]:
    """A processor on this test's topics, its in-memory store and its privacy gate."""
    settings = Settings(
        state_dir=tmp_path / "state",
        kafka=kafka_settings,
        pipeline={"presets": (PRESET,)},
    )
    store = MemoryStore()
    gate = PrivacyGate.open(settings, store)
    stop = asyncio.Event()
    async with started_producer(settings) as producer:
        processor = Processor(
            settings,
            store,
            producer,
            PresetReloader(PRESET),
            DeadLetterWriter(producer, kafka_settings),
            privacy=gate,
        )
        task = asyncio.create_task(processor.run(stop))
        yield settings, store, gate
        stop.set()
        await task


async def _events(settings: Settings, *events: dict[str, Any]) -> None:
    await produce(
        settings.kafka.bootstrap_servers,
        settings.kafka.events_topic,
        [(key_of(e), orjson.dumps(e)) for e in events],
    )


async def _traces(settings: Settings) -> dict[str, dict[str, Any]]:
    records = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.traces_topic)
    return {t["messageId"]: t for t in (orjson.loads(r.value) for r in records)}


async def test_a_suppressed_user_is_dropped_before_any_state_is_written(
    running: tuple[Settings, MemoryStore, PrivacyGate],
) -> None:
    """With user:u-9 suppressed, its identify and demo request become ``suppressed`` drops: no
    profile is stored, no lead intent is produced, and the trace holds no fields."""
    settings, store, gate = running
    await gate.suppressions.add(["user:u-9"])
    who = identify("u-9", "jane.doe@acme.com")
    demo = track("u-9", "Demo Requested")
    control = track("u-10", "Demo Requested")
    await _events(settings, who, demo, control)

    async def traced() -> bool:
        return len(await _traces(settings)) == 3

    await wait_for(traced, timeout_s=30)
    traces = await _traces(settings)
    for event in (who, demo):
        trace = traces[event["messageId"]]
        assert trace["reason"] == "suppressed"
        assert trace["suppressed"] is True
        assert trace["normalized"] == {}
        assert trace["stages"][0]["stage"] == "privacy"
    assert traces[control["messageId"]]["reason"] != "suppressed"
    assert await store.get_profiles(["user:u-9", "anon:anon-u-9"]) == {}
    leads = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.delivery_topic)
    assert leads == []


async def test_a_suppressed_email_is_recognised_under_a_new_visitor_id(
    running: tuple[Settings, MemoryStore, PrivacyGate],
) -> None:
    """A suppressed address arriving from a never-seen anonymousId (in traits, any case) is
    dropped as ``suppressed`` too, and nothing is remembered of that visitor."""
    settings, store, gate = running
    await gate.suppressions.add(["email:jane.doe@acme.com"])
    stranger = f"u-{uuid.uuid4().hex[:6]}"
    who = identify(stranger, " Jane.Doe@ACME.com ")
    await _events(settings, who)

    async def traced() -> bool:
        return who["messageId"] in await _traces(settings)

    await wait_for(traced, timeout_s=30)
    assert (await _traces(settings))[who["messageId"]]["reason"] == "suppressed"
    assert await store.get_profiles([f"user:{stranger}", f"anon:anon-{stranger}"]) == {}


async def test_profiles_holding_an_email_are_indexed_for_forgetting(
    running: tuple[Settings, MemoryStore, PrivacyGate],
) -> None:
    """After an identify with an email, the person index lists the key of the visitor's profile
    body under that (normalised) address, the store links the visitor's other identity to it,
    and nothing is listed under another address."""
    settings, store, gate = running
    who = identify("u-11", "Sam@Example.org")
    await _events(settings, who)

    async def indexed() -> bool:
        return len(await gate.index.identities("sam@example.org")) == 1

    await wait_for(indexed, timeout_s=30)
    found = await gate.index.identities("sam@example.org")
    assert sorted(found.values()) == ["user:u-11"]
    assert await store.linked_identities(["user:u-11"]) == {"anon:anon-u-11", "user:u-11"}
    assert await gate.index.identities("other@example.org") == {}
