"""Reading the dead-letter topic back: one ``DeadLetter`` per record, the ``dlq`` filters, and a
scan that always ends.

The scan runs from the topic's beginning up to the end offsets captured when it starts, so a
replay that fails again (and lands back on the dead-letter topic) or a topic that keeps growing
can never make it run forever.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from leadgate.domain.times import iso_utc, parse_iso
from leadgate.kafka.clients import start_or_stop
from leadgate.kafka.deadletter import PREFIX, Headers
from leadgate.settings import KafkaSettings

# A scan that makes no progress for this long is stuck (a partition lost its leader, say).
_STALL_S = 60.0
# How long to wait for the fetch that reveals each partition's high watermark.
_PROBE_S = 10.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record read back from the dead-letter topic."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def error(self, name: str) -> str:
        """The ``leadgate.error.<name>`` header ('' when absent or not utf-8)."""
        for key, value in self.headers:
            if key == PREFIX + name:
                try:
                    return value.decode()
                except UnicodeDecodeError:
                    return ""
        return ""

    @property
    def reason(self) -> str:
        """Why the record was dead-lettered."""
        return self.error("reason")

    @property
    def source_topic(self) -> str:
        """The topic the record came from (where a replay sends it)."""
        return self.error("topic")

    @property
    def dead_lettered_at(self) -> datetime:
        """When the dead letter was written (the record's timestamp)."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def original_headers(self) -> Headers:
        """The headers the original record had."""
        return [(k, v) for k, v in self.headers if not k.startswith(PREFIX)]

    def summary(self) -> dict[str, Any]:
        """What ``dlq list`` shows: where it came from, why, and the messageIds and event names
        inside; never the emails or traits in the value."""
        message_ids, events = _identify(self.value)
        return {
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": iso_utc(self.dead_lettered_at),
            "stage": self.error("stage"),
            "reason": self.reason,
            "status": self.error("status"),
            "attempts": self.error("attempts"),
            "first_failure": self.error("first_failure"),
            "topic": self.source_topic,
            "source_partition": self.error("partition"),
            "source_offset": self.error("offset"),
            "source_last_offset": self.error("last_offset") or self.error("offset"),
            "detail": self.error("detail"),
            "message_ids": message_ids,
            "events": events,
        }


def _identify(value: bytes | None) -> tuple[list[str], list[str]]:
    """The messageIds and event names of an event or a lead intent ([] for unreadable bytes)."""
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return [], []
    if not isinstance(body, dict):
        return [], []
    ids = body.get("message_ids")  # a lead intent
    if not isinstance(ids, list):
        ids = [body.get("messageId")]  # a Segment event
    name = body.get("event") or body.get("type")
    return (
        [str(i) for i in ids if isinstance(i, str | int)],
        [name] if isinstance(name, str) and name else [],
    )


def matches(letter: DeadLetter, *, reason: str | None, since: datetime | None) -> bool:
    """The ``--reason`` and ``--since`` filters (since: dead-lettered at or after)."""
    if reason is not None and letter.reason != reason:
        return False
    return since is None or letter.dead_lettered_at >= since


class DeadLetterReader:
    """Scans the dead-letter topic from its beginning to the end captured on entry::

    async with DeadLetterReader(settings) as reader:
        async for letter in reader:
            ...
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=settings.request_timeout_ms,
        )
        self._end: dict[TopicPartition, int] = {}
        self.total = 0
        self.scanned = 0

    async def __aenter__(self) -> DeadLetterReader:
        consumer = self._consumer
        await start_or_stop(consumer)
        try:
            topics = await consumer.topics()
            topic = self._settings.deadletter_topic
            partitions = (
                sorted(consumer.partitions_for_topic(topic) or ()) if topic in topics else []
            )
            tps = [TopicPartition(topic, p) for p in partitions]
            if tps:
                consumer.assign(tps)
                begin = await consumer.beginning_offsets(tps)
                self._end = await self._probe_ends(tps)
                for tp in tps:
                    consumer.seek(tp, begin[tp])
                self.total = sum(self._end[tp] - begin[tp] for tp in tps)
        except BaseException:
            await consumer.stop()
            raise
        return self

    async def _probe_ends(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The end offsets now: the larger of ListOffsets and the high watermark of a fetch.

        The embedded Tansu broker answers ListOffsets(latest) with the base offset of the last
        batch, short of the real end; a fetch from there reports the true high watermark.
        """
        consumer = self._consumer
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        deadline = time.monotonic() + _PROBE_S
        while time.monotonic() < deadline:
            await consumer.getmany(*tps, timeout_ms=100)
            marks = {tp: consumer.highwater(tp) for tp in tps}
            if all(mark is not None for mark in marks.values()):
                return {tp: max(ends[tp], marks[tp] or 0) for tp in tps}
        return ends

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def _remaining(self) -> list[TopicPartition]:
        return [tp for tp, end in self._end.items() if await self._consumer.position(tp) < end]

    async def __aiter__(self) -> AsyncIterator[DeadLetter]:
        remaining = await self._remaining()
        last_progress = time.monotonic()
        while remaining:
            batch = await self._consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= self._end[tp]:
                        break
                    self.scanned += 1
                    yield DeadLetter(
                        partition=tp.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        key=record.key,
                        value=record.value,
                        headers=tuple((k, bytes(v)) for k, v in record.headers or ()),
                    )
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > _STALL_S:
                raise TimeoutError(
                    f"dead-letter scan stalled with {len(remaining)} partitions left"
                )
            remaining = await self._remaining()


async def list_dead_letters(
    settings: KafkaSettings, *, reason: str | None = None, since: datetime | None = None
) -> list[DeadLetter]:
    """Every matching dead letter, oldest first per partition."""
    async with DeadLetterReader(settings) as reader:
        return [letter async for letter in reader if matches(letter, reason=reason, since=since)]


def parse_since(text: str) -> datetime:
    """An ISO 8601 time for ``--since`` (a date alone, or no zone, means UTC)."""
    moment = parse_iso(text)
    if moment is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    return moment
