"""The consume loop on the embedded broker with a batch it cannot decode: dead-lettered and
skipped by default, or the partition stopped in place with ``errors_tolerance=none``."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import aiokafka.codec
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from leadgate.kafka.broker import ensure_topics
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.metrics import REGISTRY
from leadgate.settings import KafkaSettings
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from tests.plugins.corrupt import CODEC_LZ4, build_batch, crc_mismatch, garbage_lz4, produce_raw
from tests.plugins.streams import produce, read_records, wait_for


class Harness:
    """A consume loop over ``settings.events_topic`` that records every value it handles."""

    def __init__(self, settings: KafkaSettings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.seen: Counter[bytes] = Counter()
        self.loop = ConsumeLoop(
            settings,
            topic=settings.events_topic,
            group=settings.processor_group,
            handler=self.handle,
            dead_letters=DeadLetterWriter(producer, settings),
        )

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        self.seen.update(r.value for r in records)
        return BatchResult(done=tuple(r.offset for r in records))

    async def committed(self, partition: int) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers)
        await admin.start()
        try:
            tp = TopicPartition(self.settings.events_topic, partition)
            offsets = await admin.list_consumer_group_offsets(
                self.settings.processor_group, partitions=[tp]
            )
        finally:
            await admin.close()
        meta = offsets.get(tp)
        return -1 if meta is None else int(meta.offset)


@pytest.fixture
async def start_loop() -> AsyncIterator[Callable[[KafkaSettings], asyncio.Future[Harness]]]:
    """Factory: a running consume loop (with a dead-letter producer) until the test ends."""
    stack: list[tuple[asyncio.Event, asyncio.Task[None], AIOKafkaProducer]] = []

    async def start(settings: KafkaSettings) -> Harness:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        await producer.start()
        harness = Harness(settings, producer)
        stop = asyncio.Event()
        stack.append((stop, asyncio.create_task(harness.loop.run(stop)), producer))
        return harness

    yield start  # type: ignore[misc]
    for stop, task, producer in stack:
        stop.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()


async def _good(settings: KafkaSettings, *values: bytes) -> None:
    await produce(settings.bootstrap_servers, settings.events_topic, ((b"k", v) for v in values))


async def _produce_to(settings: KafkaSettings, partition: int, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.events_topic, value, partition=partition)
    finally:
        await producer.stop()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("kind", ["crc_mismatch", "corrupt"])
async def test_a_bad_batch_is_dead_lettered_with_its_offsets_and_the_partition_moves_on(
    make_kafka_settings: Callable[..., KafkaSettings],
    start_loop: Callable[[KafkaSettings], asyncio.Future[Harness]],
    kind: str,
) -> None:
    """Records before and after a batch that does not decode are each handled once; the batch
    is on the dead-letter topic (raw bytes, topic, partition, first and last offset, reason,
    detail), counted, and the group commits past it."""
    settings = make_kafka_settings(partitions=1)
    await ensure_topics(
        settings.bootstrap_servers, (settings.events_topic, settings.deadletter_topic), 1
    )
    await _produce_to(settings, 0, b"before-1", b"before-2")
    batch = build_batch([b"lost-1", b"lost-2", b"lost-3"])
    broken = crc_mismatch(batch) if kind == "crc_mismatch" else garbage_lz4(batch)
    first = await produce_raw(settings.bootstrap_servers, settings.events_topic, 0, broken)
    await _produce_to(settings, 0, b"after-1", b"after-2")
    counted = _sample(
        "leadgate_undecodable_batches_total",
        topic=settings.events_topic,
        detail=kind,
        action="dead_lettered",
    )

    harness = await start_loop(settings)
    wanted = {b"before-1", b"before-2", b"after-1", b"after-2"}
    await wait_for(lambda: _async(set(harness.seen) >= wanted), timeout_s=30, interval_s=0.05)
    (letter,) = await read_records(settings.bootstrap_servers, settings.deadletter_topic, 1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["leadgate.error.reason"] == "undecodable_batch"
    assert headers["leadgate.error.detail"] == kind
    assert headers["leadgate.error.topic"] == settings.events_topic
    assert headers["leadgate.error.partition"] == "0"
    assert (headers["leadgate.error.offset"], headers["leadgate.error.last_offset"]) == (
        str(first),
        str(first + 2),
    )
    # the broker stamped its own base offset and leader epoch; the rest is the batch as written
    assert letter.value[:8] == first.to_bytes(8, "big")
    assert letter.value[16:] == bytes(broken[16:])
    assert letter.key is None
    assert set(harness.seen) == wanted
    assert set(harness.seen.values()) == {1}
    assert (
        _sample(
            "leadgate_undecodable_batches_total",
            topic=settings.events_topic,
            detail=kind,
            action="dead_lettered",
        )
        == counted + 1
    )

    async def committed_past() -> bool:
        return await harness.committed(0) == first + 5

    await wait_for(committed_past, timeout_s=15)


async def test_a_missing_codec_library_is_dead_lettered_not_a_crash_loop(
    make_kafka_settings: Callable[..., KafkaSettings],
    start_loop: Callable[[KafkaSettings], asyncio.Future[Harness]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An lz4 batch read by a client without the lz4 library (the issue's
    UnsupportedCodecError) is dead-lettered as ``unsupported_codec`` and the loop goes on."""
    settings = make_kafka_settings(partitions=1)
    await ensure_topics(
        settings.bootstrap_servers, (settings.events_topic, settings.deadletter_topic), 1
    )
    lz4 = build_batch([b"compressed-" + str(n).encode() * 40 for n in range(4)], codec=CODEC_LZ4)
    await produce_raw(settings.bootstrap_servers, settings.events_topic, 0, lz4)
    await _produce_to(settings, 0, b"plain-after")
    monkeypatch.setattr(aiokafka.codec, "cramjam", None)
    harness = await start_loop(settings)
    await wait_for(lambda: _async(b"plain-after" in harness.seen), timeout_s=30, interval_s=0.05)
    (letter,) = await read_records(settings.bootstrap_servers, settings.deadletter_topic, 1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert (headers["leadgate.error.detail"], headers["leadgate.error.offset"]) == (
        "unsupported_codec",
        "0",
    )
    assert headers["leadgate.error.last_offset"] == "3"
    assert not any(v.startswith(b"compressed-") for v in harness.seen)


async def test_strict_tolerance_stops_only_that_partition_without_losing_its_place(
    make_kafka_settings: Callable[..., KafkaSettings],
    start_loop: Callable[[KafkaSettings], asyncio.Future[Harness]],
) -> None:
    """With ``errors_tolerance=none`` the records before the bad batch are handled and
    committed, the partition stops at the batch (gauge 1, ``halted`` names it), nothing is
    dead-lettered, and the other partition keeps flowing."""
    settings = make_kafka_settings(partitions=2, errors_tolerance="none")
    await ensure_topics(
        settings.bootstrap_servers, (settings.events_topic, settings.deadletter_topic), 2
    )
    await _produce_to(settings, 0, b"p0-before")
    first = await produce_raw(
        settings.bootstrap_servers, settings.events_topic, 0, crc_mismatch(build_batch([b"x"]))
    )
    await _produce_to(settings, 0, b"p0-after")
    harness = await start_loop(settings)
    await wait_for(lambda: _async(b"p0-before" in harness.seen), timeout_s=30, interval_s=0.05)
    await wait_for(lambda: _async(bool(harness.loop.bad_batches.halted)), timeout_s=10)
    await _produce_to(settings, 1, b"p1-later")
    await wait_for(lambda: _async(b"p1-later" in harness.seen), timeout_s=15, interval_s=0.05)

    async def committed_up_to_the_batch() -> bool:
        return await harness.committed(0) == first

    await wait_for(committed_up_to_the_batch, timeout_s=15)
    halt = harness.loop.bad_batches.halted[TopicPartition(settings.events_topic, 0)]
    assert (halt.offset, halt.detail) == (first, "crc_mismatch")
    assert "stopped at offsets" in halt.describe()
    assert b"p0-after" not in harness.seen
    labels = {"group": settings.processor_group, "topic": settings.events_topic, "partition": "0"}
    assert _sample("leadgate_partition_halted", **labels) == 1
    await asyncio.sleep(1.0)
    assert b"p0-after" not in harness.seen
    assert await harness.committed(0) == first


async def _async(value: bool) -> bool:
    return value


async def test_records_of_other_partitions_fetched_with_the_bad_batch_are_not_lost(
    make_kafka_settings: Callable[..., KafkaSettings],
    start_loop: Callable[[KafkaSettings], asyncio.Future[Harness]],
) -> None:
    """aiokafka drops the records of the partitions it drained in the call that raises (their
    positions already moved on): the loop fetches them again, so every good record of the
    other partitions is handled exactly once and their offsets are committed to the end."""
    settings = make_kafka_settings(partitions=4)
    await ensure_topics(
        settings.bootstrap_servers, (settings.events_topic, settings.deadletter_topic), 4
    )
    wanted = set()
    for partition in (0, 1, 2):
        values = [f"p{partition}-{n}".encode() for n in range(5)]
        await _produce_to(settings, partition, *values)
        wanted.update(values)
    await produce_raw(
        settings.bootstrap_servers, settings.events_topic, 3, crc_mismatch(build_batch([b"x"]))
    )
    harness = await start_loop(settings)
    await wait_for(lambda: _async(set(harness.seen) >= wanted), timeout_s=30, interval_s=0.05)
    await asyncio.sleep(0.5)  # a record handed over twice would show up by now
    assert set(harness.seen) == wanted
    assert set(harness.seen.values()) == {1}

    async def all_committed() -> bool:
        return [await harness.committed(p) for p in range(4)] == [5, 5, 5, 1]

    await wait_for(all_committed, timeout_s=15)
