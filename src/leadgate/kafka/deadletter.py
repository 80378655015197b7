"""Writing dead letters (acknowledged before the offset commit); ``deadletter_reader`` reads
them back and ``deadletter_replay`` sends them home.

A dead letter is the original record (key and value unchanged, its own headers kept) on
``leadgate.deadletter`` with headers ``leadgate.error.{stage,reason,status,attempts,
first_failure,topic,partition,offset}``: utf-8 strings, never a secret, a stack trace or PII
(unlike Kafka Connect's exception-message headers; docs/reliability.md, "dead letter").

A record batch the consumer could not decode (``reason=undecodable_batch``) is dead-lettered
whole: its raw bytes as the value, no key, the range in ``offset`` and ``last_offset`` and why
in ``detail`` (``crc_mismatch``, ``unsupported_codec``, ``corrupt``). It is not a record, so
replay skips it; ``dlq list`` shows where it came from.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from leadgate.domain.reasons import DeadLetterReason
from leadgate.domain.times import iso_utc
from leadgate.settings import KafkaSettings

PREFIX = "leadgate.error."
UNDECODABLE = str(DeadLetterReason.UNDECODABLE_BATCH)
Headers = list[tuple[str, bytes]]


def dead_letter_headers(
    stage: str,
    reason: str,
    status: int | None,
    attempts: int,
    first_failure: float | datetime,
    topic: str,
    partition: int,
    offset: int,
) -> Headers:
    """The ``leadgate.error.*`` headers (``first_failure``: epoch seconds or a datetime, written
    as ISO 8601 UTC; no status is an empty string)."""
    values = {
        "stage": stage,
        "reason": reason,
        "status": "" if status is None else str(status),
        "attempts": str(attempts),
        "first_failure": iso_utc(first_failure),
        "topic": topic,
        "partition": str(partition),
        "offset": str(offset),
    }
    return [(PREFIX + name, value.encode()) for name, value in values.items()]


def _kept_headers(record: Any) -> Headers:
    """The record's own headers, minus error headers of an earlier dead-lettering."""
    return [(k, bytes(v)) for k, v in (record.headers or ()) if not k.startswith(PREFIX)]


async def _queue(
    producer: AIOKafkaProducer, settings: KafkaSettings, record: Any, headers: Headers
) -> Awaitable[Any]:
    """Queue ``record`` (an aiokafka ConsumerRecord) on the dead-letter topic: its key, value and
    own headers, then ``headers``; returns the acknowledgement to await."""
    future: Awaitable[Any] = await producer.send(
        settings.deadletter_topic,
        record.value,
        key=record.key,
        headers=_kept_headers(record) + headers,
    )
    return future


async def send_dead_letter(
    producer: AIOKafkaProducer, settings: KafkaSettings, record: Any, headers: Headers
) -> Any:
    """Write ``record`` (an aiokafka ConsumerRecord) to the dead-letter topic and wait for the
    broker's acknowledgement; commit the record's offset only after this returns."""
    return await (await _queue(producer, settings, record, headers))


class DeadLetterWriter:
    """The workers' handle on the dead-letter topic."""

    def __init__(self, producer: AIOKafkaProducer, settings: KafkaSettings) -> None:
        self._producer = producer
        self._settings = settings

    async def send(
        self,
        record: Any,
        *,
        stage: str,
        reason: str,
        status: int | None,
        attempts: int,
        first_failure: float | datetime,
    ) -> Awaitable[Any]:
        """Queue the dead letter; returns the acknowledgement to await before committing (so a
        batch of dead letters shares one round trip)."""
        headers = dead_letter_headers(
            stage,
            reason,
            status,
            attempts,
            first_failure,
            record.topic,
            record.partition,
            record.offset,
        )
        return await _queue(self._producer, self._settings, record, headers)

    async def send_batch(
        self,
        *,
        topic: str,
        partition: int,
        first: int,
        last: int,
        raw: bytes,
        detail: str,
    ) -> None:
        """Dead-letter a record batch the consumer could not decode (offsets ``first`` to
        ``last``): its raw bytes as the value, no key, and wait for the acknowledgement."""
        headers = dead_letter_headers(
            "consume", UNDECODABLE, None, 1, time.time(), topic, partition, first
        )
        headers += [
            (PREFIX + "last_offset", str(last).encode()),
            (PREFIX + "detail", detail.encode()),
        ]
        future = await self._producer.send(
            self._settings.deadletter_topic, raw, key=None, headers=headers
        )
        await future
