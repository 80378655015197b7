"""Forget and allow markers on the traces topic: every inspector drops a forgotten person's
traces and raw events, refuses them afterwards (also after re-reading the topic from the start),
and takes them again once allowed; a suppressed event's raw record is never kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import orjson

from leadgate.kafka.traces import TraceConsumer, publish_privacy_marker, publish_trace
from leadgate.settings import KafkaSettings
from leadgate.store.suppression import PersonHasher
from leadgate.store.traces import TraceQuery, TraceStore
from tests.kafka.conftest import until
from tests.plugins.streams import read_topic

HASH = PersonHasher(b"test-salt")


fresh_consumers: list[TraceConsumer] = []


@contextlib.asynccontextmanager
async def _inspector(kafka_settings: KafkaSettings) -> AsyncIterator[TraceStore]:
    """An inspector instance (own group, reading from the start) on the test's topics."""
    store = TraceStore(None, person_hash=HASH)
    stop = asyncio.Event()
    consumer = TraceConsumer(kafka_settings, store)
    fresh_consumers.append(consumer)
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield store
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def _event(producer: object, kafka: KafkaSettings, mid: str, email: str) -> None:
    raw = orjson.dumps(
        {"type": "identify", "messageId": mid, "anonymousId": "a-1", "traits": {"email": email}}
    )
    await producer.send_and_wait(kafka.events_topic, key=b"a-1", value=raw)  # type: ignore[attr-defined]
    trace = {"stage": "processor", "normalized": {"email": email}, "outcome": "dropped"}
    await publish_trace(producer, kafka, mid, trace)
    await producer.flush()  # type: ignore[attr-defined]


async def test_a_forget_marker_empties_every_inspector_and_survives_a_reread(
    kafka_settings: KafkaSettings, producer: object
) -> None:
    """After a forget marker, the inspector holds nothing of Jane (trace or raw event) while
    Joe's stays; a fresh inspector re-reading the topics from the start ends the same way."""
    jane = f"jane-{time.monotonic_ns()}@acme.com"
    async with _inspector(kafka_settings) as store:
        await _event(producer, kafka_settings, "m-jane", jane)
        await _event(producer, kafka_settings, "m-joe", "joe@acme.com")
        await until(lambda: store.get("m-jane") is not None and store.get("m-joe") is not None)
        hashes = [HASH(f"email:{jane}"), HASH("anon:a-1")]
        await publish_privacy_marker(producer, kafka_settings, "forget", hashes)
        await until(lambda: store.get("m-jane") is None)
        # anon:a-1 is forgotten too, and both events came from it.
        await until(lambda: store.get("m-joe") is None)
    total = 0
    for topic in (kafka_settings.events_topic, kafka_settings.traces_topic):
        total += len(await read_topic(kafka_settings.bootstrap_servers, topic))
    async with _inspector(kafka_settings) as fresh:
        consumer = fresh_consumers[-1]
        await until(lambda: consumer.consumed >= total)
        assert fresh.get("m-jane") is None
        assert fresh.get("m-joe") is None


async def test_an_allow_marker_lets_a_person_back_in(
    kafka_settings: KafkaSettings, producer: object
) -> None:
    """A person forgotten and then allowed again shows up for events after the allow."""
    who = f"sam-{time.monotonic_ns()}@acme.com"
    hashes = [HASH(f"email:{who}")]
    async with _inspector(kafka_settings) as store:
        await publish_privacy_marker(producer, kafka_settings, "forget", hashes)
        await publish_privacy_marker(producer, kafka_settings, "allow", hashes)
        markers = 2 * kafka_settings.partitions  # one per partition each
        await until(lambda: fresh_consumers[-1].consumed >= markers)
        await _event(producer, kafka_settings, f"m-{who}", who)
        await until(lambda: store.get(f"m-{who}") is not None)


def test_a_suppressed_trace_keeps_no_raw_event_in_either_order() -> None:
    """Whether the raw event comes before or after the processor's suppressed trace, the entry
    ends with no raw event and no email, so an email search finds nothing."""
    for order in ("raw-first", "trace-first"):
        store = TraceStore(None, person_hash=HASH)
        raw = b'{"type": "track", "messageId": "m-1", "traits": {"email": "jane@acme.com"}}'
        trace = {"messageId": "m-1", "stage": "processor", "suppressed": True, "normalized": {}}
        if order == "raw-first":
            store.add_event("m-1", raw)
            store.add_trace(trace)
        else:
            store.add_trace(trace)
            store.add_event("m-1", raw)
        entry = store.get("m-1")
        assert entry is not None, order
        assert entry.raw is None, order
        assert entry.email is None, order
        assert store.query(TraceQuery(email="jane@acme.com")) == [], order
