"""Traces over the real broker: workers publish, every inspector instance sees every event."""

from __future__ import annotations

import asyncio
import time

import orjson
from structlog.testing import capture_logs

from leadgate.kafka.producer import make_producer
from leadgate.kafka.traces import TRACE_PUBLISH_FAILED, TraceConsumer, publish_trace
from leadgate.settings import KafkaSettings
from leadgate.store.traces import TraceStore
from tests.kafka.conftest import until
from tests.plugins.inspector import delivery_trace, processor_trace


async def test_every_inspector_instance_folds_every_event(
    kafka_settings: KafkaSettings, producer: object
) -> None:
    """Two inspector instances (own consumer groups) each fold the processor and delivery
    records and keep the raw event, whichever partition they came through."""
    stores = [TraceStore(None), TraceStore(None)]
    consumers = [TraceConsumer(kafka_settings, store) for store in stores]
    assert consumers[0].group_id != consumers[1].group_id
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    try:
        message_ids = []
        for n in range(6):
            lead = processor_trace()
            mid = lead["messageId"] + f"-{n}-{time.monotonic_ns()}"
            message_ids.append(mid)
            raw = orjson.dumps({"type": "track", "messageId": mid, "event": "Demo Requested"})
            await producer.send_and_wait(  # type: ignore[attr-defined]
                kafka_settings.events_topic, key=b"anon", value=raw
            )
            await publish_trace(producer, kafka_settings, mid, lead)
            await publish_trace(producer, kafka_settings, mid, delivery_trace(mid))
        await producer.flush()  # type: ignore[attr-defined]

        def all_delivered() -> bool:
            return all(
                (entry := store.get(mid)) is not None
                and entry.outcome == "delivered"
                and entry.raw is not None
                for store in stores
                for mid in message_ids
            )

        await until(all_delivered)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)  # a consumer that failed fails the test


async def test_publish_trace_never_raises_on_a_stopped_producer(
    kafka_settings: KafkaSettings,
) -> None:
    """A trace that cannot be written does not fail the event it describes: it is logged as a
    warning naming the error, never raised."""
    stopped = make_producer(kafka_settings)
    await stopped.start()
    await stopped.stop()
    with capture_logs() as logs:
        await publish_trace(stopped, kafka_settings, "m-1", processor_trace())
    failures = [line for line in logs if line["event"] == TRACE_PUBLISH_FAILED]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "warning"
    assert failures[0]["error"]


async def test_a_later_record_folds_into_the_trace_already_shown(
    kafka_settings: KafkaSettings, producer: object
) -> None:
    """Once the inspector consumes, a delivery record published after the processor's record
    turns the trace already shown into "delivered" (how fast: bench, not here)."""
    store = TraceStore(None)
    consumer = TraceConsumer(kafka_settings, store)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.wait_for(consumer.ready.wait(), 30)
        lead = processor_trace()
        await publish_trace(producer, kafka_settings, lead["messageId"], lead)
        await until(lambda: store.get(lead["messageId"]) is not None)
        await publish_trace(
            producer, kafka_settings, lead["messageId"], delivery_trace(lead["messageId"])
        )
        await until(lambda: store.get(lead["messageId"]).outcome == "delivered")  # type: ignore[union-attr]
        entry = store.get(lead["messageId"])
        assert entry is not None
        assert entry.outcome == "delivered"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_a_corrupt_batch_in_events_is_skipped_not_a_crash_loop(
    kafka_settings: KafkaSettings, producer: object
) -> None:
    """The inspector's feed reads the events topic too: a batch there that does not decode is
    skipped (the processor dead-letters its copy) and the events after it still arrive."""
    from tests.plugins.corrupt import build_batch, crc_mismatch, produce_raw

    store = TraceStore(None)
    consumer = TraceConsumer(kafka_settings, store)
    await produce_raw(
        kafka_settings.bootstrap_servers,
        kafka_settings.events_topic,
        0,
        crc_mismatch(build_batch([b'{"messageId": "lost"}'])),
    )
    raw = orjson.dumps({"type": "track", "messageId": "m-after-bad", "event": "Demo Requested"})
    await producer.send_and_wait(  # type: ignore[attr-defined]
        kafka_settings.events_topic, key=b"anon", value=raw, partition=0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: (entry := store.get("m-after-bad")) is not None and bool(entry.raw))
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
