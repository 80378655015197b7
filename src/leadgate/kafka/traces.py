"""Traces on ``leadgate.traces``: the workers publish them, every inspector consumes them all.

Publishing is best effort: a trace that cannot be written must never fail the event it
describes, so ``publish_trace`` hands the record to the producer and returns (a failure is
logged and counted). The processor writes a trace for every event, so it collects a batch's
traces in a ``TraceBatch`` and hands them to the producer as one record batch per partition
(aiokafka's per-record ``send`` costs more than the rest of the processor's work per event).
Both choose the partition of a messageId the same cheap, stable way (``trace_partition``), so
an event's records stay in one partition, in the order they were written.

Each inspector instance reads with a consumer group of its own, so that every instance sees
every event whichever worker handled it; it also reads ``leadgate.events`` to keep each raw
event next to its trace (``leadgate presets diff`` replays them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import zlib
from collections.abc import Collection
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from leadgate.kafka.batches import find_undecodable, rewind_lost
from leadgate.kafka.clients import start_or_stop
from leadgate.observability.logging import get_logger
from leadgate.settings import KafkaSettings, Settings
from leadgate.store.traces import TraceStore

log = get_logger(__name__)

TRACE_PUBLISH_FAILED = "traces.publish.error"


def _kafka(settings: KafkaSettings | Settings) -> KafkaSettings:
    return settings.kafka if isinstance(settings, Settings) else settings


def trace_partition(message_id: str, partitions: Collection[int]) -> int:
    """The partition of a messageId's trace records: crc32 of the id over the topic's
    partitions (stable, and much cheaper than the producer's pure-Python murmur2)."""
    ordered = partitions if isinstance(partitions, list) else sorted(partitions)
    return _partition_of(message_id.encode(), ordered)


def _partition_of(key: bytes, ordered: list[int]) -> int:
    """The partition of an encoded messageId among ``ordered`` (sorted) partitions."""
    return int(ordered[zlib.crc32(key) % len(ordered)])


async def publish_trace(
    producer: Any, settings: KafkaSettings | Settings, message_id: str, record: dict[str, Any]
) -> None:
    """Send one trace record keyed by ``message_id``; never raises (a trace is best effort)."""
    topic = _kafka(settings).traces_topic
    payload = dict(record)
    payload.setdefault("messageId", message_id)
    try:
        partition = trace_partition(message_id, await producer.partitions_for(topic))
        future = await producer.send(
            topic, key=message_id.encode(), value=orjson.dumps(payload), partition=partition
        )
    except (KafkaError, OSError, RuntimeError) as exc:
        log.warning(TRACE_PUBLISH_FAILED, error=type(exc).__name__, topic=topic)
        return
    future.add_done_callback(_report_failure)


def _report_failure(future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.warning(TRACE_PUBLISH_FAILED, error=type(exc).__name__)


class TraceBatch:
    """One processor batch's traces, built into a record batch per partition and sent with
    ``send_batch``: no per-record partitioner or accumulator work.

    ``add`` only encodes; ``send`` hands every record batch to the producer and returns their
    acknowledgements (``await`` them to know the traces are written; a failure is logged, never
    raised: a trace is best effort).
    """

    def __init__(self, producer: Any, topic: str, partitions: Collection[int]) -> None:
        self._producer = producer
        self._topic = topic
        self._partitions = sorted(partitions)
        self._open: dict[int, Any] = {}
        self._full: list[tuple[int, Any]] = []

    @classmethod
    async def start(cls, producer: Any, settings: KafkaSettings | Settings) -> TraceBatch:
        """A batch for the traces topic (waits for its metadata, like ``send`` does)."""
        topic = _kafka(settings).traces_topic
        return cls(producer, topic, await producer.partitions_for(topic))

    def add(self, message_id: str, record: dict[str, Any]) -> None:
        """Encode one trace record keyed by ``message_id`` (``record`` holds the messageId)."""
        key = message_id.encode()
        value = orjson.dumps(record)
        partition = _partition_of(key, self._partitions)  # as trace_partition() places it
        builder = self._open.get(partition)
        if builder is None:
            builder = self._open[partition] = self._producer.create_batch()
        now = time.time()
        if builder.append(timestamp=now, key=key, value=value) is None:  # full: start another
            self._full.append((partition, builder))
            builder = self._open[partition] = self._producer.create_batch()
            if builder.append(timestamp=now, key=key, value=value) is None:
                log.warning(TRACE_PUBLISH_FAILED, error="RecordTooLarge", topic=self._topic)

    async def send(self) -> list[asyncio.Future[Any]]:
        """Hand every record batch to the producer; the acknowledgements (never failing)."""
        pending = [*self._full, *self._open.items()]
        self._full, self._open = [], {}
        acks: list[asyncio.Future[Any]] = []
        for partition, builder in pending:
            if builder.record_count() == 0:
                continue
            try:
                future = await self._producer.send_batch(builder, self._topic, partition=partition)
            except (KafkaError, OSError, RuntimeError) as exc:
                log.warning(TRACE_PUBLISH_FAILED, error=type(exc).__name__, topic=self._topic)
                continue
            acks.append(asyncio.ensure_future(_reported(future)))
        return acks


async def _reported(future: asyncio.Future[Any]) -> None:
    try:
        await future
    except (KafkaError, OSError, RuntimeError) as exc:
        log.warning(TRACE_PUBLISH_FAILED, error=type(exc).__name__)


PRIVACY_STAGE = "privacy"


async def publish_privacy_marker(
    producer: Any, settings: KafkaSettings | Settings, action: str, hashes: Collection[str]
) -> None:
    """Tell every inspector to forget (``action="forget"``) or accept again (``"allow"``) the
    people with these identifier hashes: one record on every partition of the traces topic, so
    it comes after every earlier trace of theirs in each partition (also for an inspector that
    re-reads the topic from the start). Raises ``KafkaError`` when it cannot be written: unlike
    a trace, a forget must not be lost silently."""
    topic = _kafka(settings).traces_topic
    marker_id = f"privacy:{uuid.uuid4().hex}"
    value = orjson.dumps(
        {"messageId": marker_id, "stage": PRIVACY_STAGE, "action": action, "hashes": sorted(hashes)}
    )
    partitions = sorted(await producer.partitions_for(topic))
    acks = [
        await producer.send(topic, key=marker_id.encode(), value=value, partition=partition)
        for partition in partitions
    ]
    await asyncio.gather(*acks)


def inspector_group(instance: str | None = None) -> str:
    """A consumer group of this inspector instance's own."""
    return f"leadgate-inspector-{instance or uuid.uuid4().hex[:12]}"


class TraceConsumer:
    """Feeds a ``TraceStore`` from the traces topic (and raw events from the events topic)."""

    def __init__(
        self,
        settings: KafkaSettings | Settings,
        store: TraceStore,
        *,
        group_id: str | None = None,
        raw_events: bool = True,
    ) -> None:
        self._settings = _kafka(settings)
        self._store = store
        self.group_id = group_id or inspector_group()
        self._raw_events = raw_events
        self.ready = asyncio.Event()
        self.consumed = 0

    def _topics(self) -> list[str]:
        topics = [self._settings.traces_topic]
        if self._raw_events:
            topics.append(self._settings.events_topic)
        return topics

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        consumer = AIOKafkaConsumer(
            *self._topics(),
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            session_timeout_ms=self._settings.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self._settings.session_timeout_ms // 4),
            request_timeout_ms=self._settings.request_timeout_ms,
        )
        await start_or_stop(consumer)
        received: dict[TopicPartition, int] = {}  # per partition, the offset after the last seen
        try:
            while not stop.is_set():
                try:
                    batches = await consumer.getmany(timeout_ms=200, max_records=500)
                except Exception as exc:  # a batch that does not decode raises on every call
                    await rewind_lost(consumer, received)
                    batches = await self._skip_undecodable(consumer, exc, received)
                else:
                    for tp, records in batches.items():
                        if records:
                            received[tp] = records[-1].offset + 1
                if consumer.assignment():
                    self.ready.set()
                for partition, records in batches.items():
                    for record in records:
                        self._take(partition.topic, record.key, record.value)
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()

    async def _skip_undecodable(
        self, consumer: AIOKafkaConsumer, error: Exception, received: dict[TopicPartition, int]
    ) -> dict[TopicPartition, list[Any]]:
        """Skip a batch the consumer cannot decode (the workers dead-letter their copy; the
        inspector only shows less); the records before it are taken. Re-raise ``error`` when
        no partition holds such a batch."""
        found = await find_undecodable(
            consumer,
            consumer.assignment() - consumer.paused(),
            bootstrap_servers=self._settings.bootstrap_servers,
            request_timeout_ms=self._settings.request_timeout_ms,
        )
        if not found:
            raise error
        for tp, result in found:
            assert result.bad is not None
            log.error(
                "traces.batch_skipped",
                topic=tp.topic,
                partition=tp.partition,
                offset=result.bad.first,
                last_offset=result.bad.last,
                detail=result.bad.detail,
            )
            consumer.seek(tp, result.bad.last + 1)
            received[tp] = result.bad.last + 1
        return {tp: result.records for tp, result in found}

    def _take(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        self.consumed += 1
        if topic == self._settings.traces_topic:
            try:
                record = orjson.loads(value)
            except orjson.JSONDecodeError:
                log.warning("traces.record.malformed", topic=topic)
                return
            if isinstance(record, dict) and record.get("stage") == PRIVACY_STAGE:
                self._privacy(record)
            elif isinstance(record, dict):
                self._store.add_trace(record)
            return
        message_id = _message_id(value)
        if message_id is not None:
            self._store.add_event(message_id, value)

    def _privacy(self, record: dict[str, Any]) -> None:
        hashes = record.get("hashes")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            log.warning("traces.privacy.malformed")
            return
        if record.get("action") == "forget":
            self._store.forget(hashes)
        elif record.get("action") == "allow":
            self._store.allow(hashes)


def _message_id(value: bytes) -> str | None:
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if isinstance(event, dict) and isinstance(event.get("messageId"), str):
        return str(event["messageId"])
    return None
