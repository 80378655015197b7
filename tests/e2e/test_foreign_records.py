"""Records a foreign producer may write (reliability K7, K8): keyed otherwise than the
collector keys them, or with odd headers. They are processed as they are; a key mismatch is
counted (an ordering risk), headers are ignored."""

from __future__ import annotations

from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from leadgate.observability.metrics import REGISTRY
from tests.e2e.conftest import MakePipeline
from tests.plugins.streams import read_topic, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = [orjson.loads(line) for line in (FIXTURES / "seed_example.jsonl").read_bytes().splitlines()]

ODD_HEADERS = [
    [],  # none at all
    [("trace", b"\xff\xfe not utf-8")],
    [("big", b"x" * 64 * 1024), ("empty", b"")],
    [("leadgate.error.reason", b"forged"), ("\u00e9t\u00e9", b"1")],
    [(f"h{n}", b"v") for n in range(100)],
]


async def test_mismatched_keys_and_odd_headers_still_make_the_seed_prospect(
    make_pipeline: MakePipeline,
) -> None:
    """The seed example with every record keyed ``wrong-key`` (or no key) and carrying odd
    headers (none, non-UTF-8, 64 KiB, forged leadgate.error.*, 100 of them) becomes the seed
    prospect; nothing is dead-lettered; ``leadgate_key_mismatch`` counts each record."""
    pipeline = await make_pipeline()
    kafka = pipeline.settings.kafka
    before = (
        REGISTRY.get_sample_value("leadgate_key_mismatch_total", {"topic": kafka.events_topic})
        or 0.0
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for n, event in enumerate(SEED):
            await producer.send_and_wait(
                kafka.events_topic,
                orjson.dumps(event),
                key=None if n == 0 else b"wrong-key",
                partition=0,
                headers=ODD_HEADERS[n % len(ODD_HEADERS)],
            )
    finally:
        await producer.stop()

    async def created() -> bool:
        return len(await pipeline.sandbox.prospects()) == 1

    await wait_for(created, timeout_s=30, interval_s=0.1)
    attributes = (await pipeline.sandbox.prospects())[0]["attributes"]
    assert attributes["emails"] == ["jane.doe@acme.com"]
    assert set(attributes["tags"]) == {"Signal", "demo-request"}
    assert await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic) == []
    after = REGISTRY.get_sample_value("leadgate_key_mismatch_total", {"topic": kafka.events_topic})
    assert after == before + len(SEED)
