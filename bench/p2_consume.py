"""P2: events/s from the embedded broker through the real processor into the delivery topic ÷
events/s of a raw aiokafka consumer (``getmany`` + ``orjson.loads``) over the same topic.

The topic holds ``count`` records of the website mix (keyed by anonymousId, as the collector
keys them). Each repetition uses a fresh consumer group; the processor also gets a fresh SQLite
store in a temp dir (production's store; a reused one would dedupe every event away). The two
sides run interleaved (processor, raw, processor, raw, ...). Each clock starts when the first
records are in hand (the group join is not measured) and stops when the last one is finished:
for the processor, when its batch is acknowledged (lead intents and traces written, acks=all).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from bench.rig import PRESET, bench_settings, create_topics, embedded_broker, produce, raw_consumer
from bench.workload import records
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.kafka.producer import make_producer
from leadgate.settings import Settings
from leadgate.store.presets import PresetReloader
from leadgate.store.sqlite import open_store
from leadgate.workers.consumer import BatchResult, Record
from leadgate.workers.processor import Processor

TIMEOUT_S = 300.0


class _TimedProcessor(Processor):
    """The production processor, with a clock around its batches."""

    target = 0
    handled = 0
    first_at: float | None = None
    last_at = 0.0
    finished: asyncio.Event

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        if self.first_at is None:
            self.first_at = time.perf_counter()
        result = await super().handle(tp, records)
        self.handled += len(records)  # handed on (it settles in the background)
        self.last_at = time.perf_counter()
        if self.handled >= self.target:
            self.finished.set()
        return result


def _key(record: bytes) -> bytes | None:
    try:
        anonymous = orjson.loads(record).get("anonymousId")
    except orjson.JSONDecodeError:
        return None
    return str(anonymous).encode() if anonymous else None


async def _through_processor(base: Settings, tmp: Path, rep: int, count: int) -> float:
    kafka = base.kafka.model_copy(update={"processor_group": f"{base.kafka.processor_group}-{rep}"})
    settings = base.model_copy(update={"kafka": kafka, "state_dir": tmp / f"state-{rep}"})
    store = await open_store(settings.state_dir)
    producer = make_producer(settings.kafka)
    await producer.start()
    stop = asyncio.Event()
    try:
        processor = _TimedProcessor(
            settings, store, producer, PresetReloader(PRESET), DeadLetterWriter(producer, kafka)
        )
        processor.target = count
        processor.finished = asyncio.Event()
        task = asyncio.create_task(processor.run(stop))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(processor.finished.wait(), TIMEOUT_S)
        stop.set()
        await task
        assert processor.first_at is not None, "the processor received nothing"
        return processor.handled / (processor.last_at - processor.first_at)
    finally:
        stop.set()
        await producer.stop()
        await store.close()


async def _through_raw(settings: Settings, rep: int, count: int) -> float:
    consumer = raw_consumer(settings.kafka.bootstrap_servers, f"bench-raw-{rep}-{time.time()}")
    consumer.subscribe([settings.kafka.events_topic])
    await consumer.start()
    try:
        seen = 0
        first_at: float | None = None
        deadline = time.monotonic() + TIMEOUT_S
        while seen < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            if batches and first_at is None:
                first_at = time.perf_counter()
            for batch in batches.values():
                for record in batch:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        orjson.loads(record.value)
                    seen += 1
        assert first_at is not None, "the raw consumer received nothing"
        return seen / (time.perf_counter() - first_at)
    finally:
        await consumer.stop()


async def run(count: int = 50_000, reps: int = 5) -> dict[str, Any]:
    """Measure P2 and return its figures."""
    async with embedded_broker() as broker:
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-p2-") as tmp:
            settings = bench_settings(broker.bootstrap, Path(tmp) / "state")
            await create_topics(settings)
            recs = records(count)
            await produce(
                broker.bootstrap, settings.kafka.events_topic, ((_key(r), r) for r in recs)
            )
            processor_eps: list[float] = []
            raw_eps: list[float] = []
            for rep in range(reps):
                processor_eps.append(await _through_processor(settings, Path(tmp), rep, count))
                raw_eps.append(await _through_raw(settings, rep, count))
    processor = statistics.median(processor_eps)
    raw = statistics.median(raw_eps)
    return {
        "p2_consume_vs_raw": round(processor / raw, 3),
        "p2_processor_eps": round(processor),
        "p2_raw_consumer_eps": round(raw),
        "p2_processor_eps_reps": [round(x) for x in processor_eps],
        "p2_raw_consumer_eps_reps": [round(x) for x in raw_eps],
    }
