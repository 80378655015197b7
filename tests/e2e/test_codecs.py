"""Every codec a Kafka client may send: the seed example produced with librdkafka
(confluent-kafka) or aiokafka in lz4, snappy, zstd and gzip, one record per batch or hundreds,
becomes the seed prospect through the real pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.e2e.conftest import MakePipeline, Pipeline
from tests.plugins.streams import read_topic, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = [orjson.loads(line) for line in (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()]
GOLDEN = orjson.loads((FIXTURES / "seed_demo_requested.json").read_bytes())["data"]["attributes"]
CODECS = ("lz4", "snappy", "zstd", "gzip")


def _key(event: dict[str, Any]) -> bytes:
    return str(event.get("anonymousId") or event["userId"]).encode()


def _records(fillers: int) -> list[tuple[bytes, bytes]]:
    """The seed example in the middle of ``fillers`` anonymous page views (dropped: no consent,
    no email), as (key, value) pairs the way the collector writes them."""
    pages = [
        (
            f"anon-filler-{n}".encode(),
            orjson.dumps(
                {
                    "type": "page",
                    "messageId": f"filler-{n}",
                    "anonymousId": f"anon-filler-{n}",
                    "name": "Home",
                    "receivedAt": "2026-11-23T10:00:00.000Z",
                }
            ),
        )
        for n in range(fillers)
    ]
    seed = [(_key(event), orjson.dumps(event)) for event in SEED]
    half = fillers // 2
    return pages[:half] + seed + pages[half:]


def _produce_with_librdkafka(
    bootstrap: str, topic: str, codec: str, records: list[tuple[bytes, bytes]], per_batch: int
) -> None:
    """Everything into partition 0 (so the seed shares its batches with the fillers), in
    batches of at most ``per_batch`` records."""
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "batch.num.messages": per_batch,
            "linger.ms": 50,
            "enable.idempotence": False,
            "acks": "all",
        }
    )
    errors: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    for key, value in records:
        producer.produce(topic, value=value, key=key, partition=0, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert errors == []


async def _assert_seed_prospect(pipeline: Pipeline) -> None:
    async def created() -> bool:
        return len(await pipeline.sandbox.prospects()) == 1

    await wait_for(created, timeout_s=30, interval_s=0.1)
    await asyncio.sleep(0.5)  # a second prospect would show up by now
    prospects = await pipeline.sandbox.prospects()
    assert len(prospects) == 1
    attributes = prospects[0]["attributes"]
    for name, value in GOLDEN.items():
        expected = sorted(value) if name == "tags" else value
        got = sorted(attributes[name]) if name == "tags" else attributes[name]
        assert got == expected, name
    kafka = pipeline.settings.kafka
    assert await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic) == []


@pytest.mark.parametrize("per_batch", [1, 500], ids=["one-per-batch", "one-batch"])
@pytest.mark.parametrize("codec", CODECS)
async def test_librdkafka_producer_in_every_codec_makes_the_seed_prospect(
    make_pipeline: MakePipeline, codec: str, per_batch: int
) -> None:
    """The seed example produced by librdkafka (confluent-kafka) with compression.type=``codec``
    among 300 other events becomes exactly the seed prospect, with nothing dead-lettered."""
    pipeline = await make_pipeline()
    kafka = pipeline.settings.kafka
    records = _records(300)
    await asyncio.to_thread(
        _produce_with_librdkafka,
        kafka.bootstrap_servers,
        kafka.events_topic,
        codec,
        records,
        per_batch,
    )
    await _assert_seed_prospect(pipeline)


@pytest.mark.parametrize("codec", CODECS)
async def test_aiokafka_producer_in_every_codec_makes_the_seed_prospect(
    make_pipeline: MakePipeline, codec: str
) -> None:
    """The seed example produced by aiokafka with compression_type=``codec`` in one batch among
    300 other events becomes exactly the seed prospect, with nothing dead-lettered."""
    pipeline = await make_pipeline()
    kafka = pipeline.settings.kafka
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        compression_type=codec,
        linger_ms=50,
        max_batch_size=1024 * 1024,
        acks="all",
    )
    await producer.start()
    try:
        futures = [
            await producer.send(kafka.events_topic, value, key=key, partition=0)
            for key, value in _records(300)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    await _assert_seed_prospect(pipeline)
