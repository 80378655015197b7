"""The issue's report, as a user would try it: the seed example produced into ``leadgate dev``'s
broker by librdkafka (confluent-kafka) with ``compression.type=lz4`` becomes the seed prospect,
and a lead produced in each other codec, by librdkafka and by aiokafka, becomes its own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson
from aiokafka import AIOKafkaProducer

from tests.plugins.dev import MakeDev
from tests.plugins.streams import wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = [orjson.loads(line) for line in (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()]
GOLDEN = orjson.loads((FIXTURES / "seed_demo_requested.json").read_bytes())["data"]["attributes"]
EVENTS = "leadgate.events"


def _key(event: dict[str, Any]) -> bytes:
    return str(event.get("anonymousId") or event["userId"]).encode()


def _lead(tag: str) -> list[dict[str, Any]]:
    """The seed's identify + Demo Requested for another person (``<tag>@acme.com``)."""
    identify, _page, demo, *_ = SEED
    user = f"user-{tag}"
    return [
        {
            **identify,
            "messageId": f"{tag}-identify",
            "userId": user,
            "anonymousId": f"anon-{tag}",
            "traits": {**identify["traits"], "email": f"{tag}@acme.com"},
        },
        {**demo, "messageId": f"{tag}-demo", "userId": user, "anonymousId": f"anon-{tag}"},
    ]


def _librdkafka(bootstrap: str, codec: str, events: list[dict[str, Any]]) -> None:
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20}
    )
    for event in events:
        producer.produce(EVENTS, value=orjson.dumps(event), key=_key(event))
    assert producer.flush(30) == 0


async def _aiokafka(bootstrap: str, codec: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(EVENTS, orjson.dumps(event), key=_key(event))
    finally:
        await producer.stop()


async def test_every_client_and_codec_becomes_a_prospect_on_leadgate_dev(
    make_dev: MakeDev,
) -> None:
    """Seed example via librdkafka lz4: the seed prospect; then one lead via librdkafka in
    snappy, zstd, gzip and one via aiokafka in lz4, snappy, zstd, gzip: a prospect each."""
    dev = await make_dev()
    await asyncio.to_thread(_librdkafka, dev.bootstrap, "lz4", SEED)

    async def count(wanted: int) -> bool:
        return len(await dev.prospects()) >= wanted

    await wait_for(lambda: count(1), timeout_s=30, interval_s=0.2)
    (seed,) = await dev.prospects()
    for name in ("emails", "firstName", "lastName", "title", "mobilePhones"):
        assert seed["attributes"][name] == GOLDEN[name], name
    assert set(seed["attributes"]["tags"]) == set(GOLDEN["tags"])

    expected = {"jane.doe@acme.com"}
    for codec in ("snappy", "zstd", "gzip"):
        tag = f"rdkafka-{codec}"
        await asyncio.to_thread(_librdkafka, dev.bootstrap, codec, _lead(tag))
        expected.add(f"{tag}@acme.com")
    for codec in ("lz4", "snappy", "zstd", "gzip"):
        tag = f"aiokafka-{codec}"
        await _aiokafka(dev.bootstrap, codec, _lead(tag))
        expected.add(f"{tag}@acme.com")
    await wait_for(lambda: count(len(expected)), timeout_s=60, interval_s=0.2)
    emails = {p["attributes"]["emails"][0] for p in await dev.prospects()}
    assert emails == expected
