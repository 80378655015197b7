"""A corrupt record batch in the events topic, through the whole pipeline: dead-lettered with
its offsets, and the seed example's records after it still become the seed prospect."""

from __future__ import annotations

from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from leadgate.kafka.deadletter_reader import list_dead_letters
from tests.e2e.conftest import MakePipeline
from tests.plugins.corrupt import build_batch, crc_mismatch, produce_raw
from tests.plugins.streams import wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = [orjson.loads(line) for line in (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()]


async def test_corrupt_batch_in_events_is_dead_lettered_and_later_records_processed(
    make_pipeline: MakePipeline,
) -> None:
    """identify, then a batch with a CRC mismatch, then the rest of the seed example, all in
    one partition: the batch is on the dead-letter topic with its offset range and
    ``undecodable_batch``, and the Demo Requested after it creates Jane Doe's prospect."""
    pipeline = await make_pipeline()
    kafka = pipeline.settings.kafka
    identify, *rest = SEED
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            kafka.events_topic, orjson.dumps(identify), key=b"anon-9f2c", partition=0
        )
        bad = crc_mismatch(build_batch([b'{"type":"track"}'] * 3))
        first = await produce_raw(kafka.bootstrap_servers, kafka.events_topic, 0, bad)
        for event in rest:
            key = str(event.get("anonymousId") or event["userId"]).encode()
            await producer.send_and_wait(
                kafka.events_topic, orjson.dumps(event), key=key, partition=0
            )
    finally:
        await producer.stop()

    async def created() -> bool:
        return len(await pipeline.sandbox.prospects()) == 1

    await wait_for(created, timeout_s=30, interval_s=0.1)
    attributes = (await pipeline.sandbox.prospects())[0]["attributes"]
    assert attributes["emails"] == ["jane.doe@acme.com"]
    assert set(attributes["tags"]) == {"Signal", "demo-request"}
    letters = await list_dead_letters(kafka, reason="undecodable_batch")
    assert [letter.summary()["source_offset"] for letter in letters] == [str(first)]
    summary = letters[0].summary()
    assert summary["topic"] == kafka.events_topic
    assert summary["source_partition"] == "0"
    assert summary["source_last_offset"] == str(first + 2)
    assert summary["detail"] == "crc_mismatch"
    assert summary["stage"] == "consume"
