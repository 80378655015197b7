"""Dead letters on a real broker: written with their headers, read back, replayed, and a replay
always ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from leadgate.kafka.deadletter import DeadLetterWriter, dead_letter_headers, send_dead_letter
from leadgate.kafka.deadletter_reader import list_dead_letters
from leadgate.kafka.deadletter_replay import replay
from leadgate.kafka.producer import make_producer
from leadgate.settings import KafkaSettings
from tests.plugins.streams import read_records


@pytest_asyncio.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    """A started leadgate producer on this test's topics."""
    made = make_producer(kafka_settings)
    await made.start()
    yield made
    await made.stop()


def test_headers_are_plain_utf8_strings() -> None:
    """The error headers carry stage, reason, status, attempts, ISO time and origin as text."""
    headers = dict(
        dead_letter_headers(
            "delivery", "vendor_validation", None, 3, 1_700_000_000.0, "leadgate.events", 2, 41
        )
    )
    assert headers == {
        "leadgate.error.stage": b"delivery",
        "leadgate.error.reason": b"vendor_validation",
        "leadgate.error.status": b"",
        "leadgate.error.attempts": b"3",
        "leadgate.error.first_failure": b"2023-11-14T22:13:20.000Z",
        "leadgate.error.topic": b"leadgate.events",
        "leadgate.error.partition": b"2",
        "leadgate.error.offset": b"41",
    }


async def test_a_dead_letter_keeps_the_record_and_says_why(
    kafka_settings: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    """The dead letter has the original key, value and headers plus the error headers, and a
    second dead-lettering replaces (not stacks) the error headers."""
    await producer.send_and_wait(
        kafka_settings.delivery_topic, b'{"x":1}', key=b"k", headers=[("trace", b"t1")]
    )
    (record,) = await read_records(
        kafka_settings.bootstrap_servers, kafka_settings.delivery_topic, 1
    )
    writer = DeadLetterWriter(producer, kafka_settings)
    ack = await writer.send(
        record,
        stage="delivery",
        reason="vendor_conflict",
        status=409,
        attempts=1,
        first_failure=datetime(2024, 5, 1, tzinfo=UTC),
    )
    await ack
    (letter,) = await list_dead_letters(kafka_settings)
    assert (letter.key, letter.value) == (b"k", b'{"x":1}')
    assert letter.original_headers() == [("trace", b"t1")]
    assert letter.summary()["status"] == "409"
    assert letter.summary()["source_offset"] == str(record.offset)

    (dead,) = await read_records(
        kafka_settings.bootstrap_servers, kafka_settings.deadletter_topic, 1
    )
    headers = dead_letter_headers("delivery", "vendor_permanent", 400, 2, 0.0, "x", 0, 0)
    await send_dead_letter(producer, kafka_settings, dead, headers)
    letters = await list_dead_letters(kafka_settings, reason="vendor_permanent")
    assert len(letters) == 1
    names = [name for name, _ in letters[0].headers]
    assert names.count("leadgate.error.reason") == 1
    assert letters[0].original_headers() == [("trace", b"t1")]


async def test_since_filters_by_dead_letter_time(
    kafka_settings: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    """``--since`` keeps only records dead-lettered at or after the given time."""
    old_ms = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
    for i, stamp in enumerate((old_ms, None, None)):
        headers = dead_letter_headers("delivery", "vendor_validation", 422, 1, 0.0, "t", 0, i)
        await producer.send_and_wait(
            kafka_settings.deadletter_topic, b"{}", timestamp_ms=stamp, headers=headers
        )
    since = datetime(2024, 1, 1, tzinfo=UTC)
    recent = await list_dead_letters(kafka_settings, since=since)
    assert sorted(letter.error("offset") for letter in recent) == ["1", "2"]


async def test_replay_stops_at_the_end_captured_at_start(
    kafka_settings: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    """Replaying a large dead-letter topic whose records go straight back into it ends after one
    pass, with a progress report reaching the total."""
    dlq = kafka_settings.deadletter_topic
    count = 1500
    acks = []
    for i in range(count):
        headers = dead_letter_headers("delivery", "retry_window_exhausted", 503, 9, 0.0, dlq, 0, i)
        acks.append(await producer.send(dlq, b'{"messageId":"m%d"}' % i, key=b"k", headers=headers))
    await asyncio.gather(*acks)

    progress: list[tuple[int, int]] = []
    result = await asyncio.wait_for(
        replay(producer, kafka_settings, on_progress=lambda d, t: progress.append((d, t))),
        timeout=120,
    )
    assert (result.scanned, result.replayed, result.skipped) == (count, count, 0)
    assert progress[-1] == (count, count)
    assert len(await list_dead_letters(kafka_settings)) == 2 * count


async def test_reading_a_missing_topic_finds_nothing(kafka_settings: KafkaSettings) -> None:
    """Listing a dead-letter topic that does not exist yet is empty, not an error."""
    missing = kafka_settings.model_copy(update={"deadletter_topic": "no.such.topic"})
    assert await list_dead_letters(missing) == []


async def test_an_undecodable_batch_is_listed_but_never_replayed(
    kafka_settings: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    """A dead-lettered raw batch shows its origin range and detail in ``dlq list``; replay
    counts it as skipped and writes nothing back to the events topic."""
    writer = DeadLetterWriter(producer, kafka_settings)
    await writer.send_batch(
        topic=kafka_settings.events_topic,
        partition=1,
        first=40,
        last=44,
        raw=b"\x00raw batch bytes",
        detail="crc_mismatch",
    )
    (letter,) = await list_dead_letters(kafka_settings)
    summary = letter.summary()
    assert (summary["reason"], summary["stage"], summary["detail"]) == (
        "undecodable_batch",
        "consume",
        "crc_mismatch",
    )
    assert (summary["source_offset"], summary["source_last_offset"]) == ("40", "44")
    assert letter.value == b"\x00raw batch bytes"
    assert letter.key is None
    result = await replay(producer, kafka_settings)
    assert (result.replayed, result.skipped) == (0, 1)
