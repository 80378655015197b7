"""Broker outages: 503 with Retry-After within a bounded wait, and bounded pending produces
(docs/reliability.md P1, P2)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from aiohttp import web

from leadgate.http.app import build_http_app
from leadgate.kafka.broker import EmbeddedBroker, ensure_topics
from leadgate.settings import CollectorSettings, KafkaSettings, Settings
from tests.plugins.collector import (
    WRITE_KEY,
    CollectorHandle,
    MakeCollector,
    basic,
    default_write_keys,
    kafka_producer,
)

EVENT = {"anonymousId": "a-1", "event": "Lead Submitted"}


@pytest_asyncio.fixture
async def doomed_collector() -> AsyncIterator[tuple[CollectorHandle, EmbeddedBroker]]:
    """A collector on a broker of its own, which the test may stop."""
    broker = EmbeddedBroker()
    await broker.start()
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, partitions=1, request_timeout_ms=3000)
    await ensure_topics(broker.bootstrap, [kafka.events_topic], 1)
    settings = Settings(
        kafka=kafka,
        collector=CollectorSettings(write_keys=default_write_keys(), produce_timeout_s=2.0),
    )
    producer = kafka_producer(kafka)
    await producer.start()
    runner = web.AppRunner(
        build_http_app(settings, producer=producer), handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield CollectorHandle(f"http://127.0.0.1:{port}", settings, runner.app), broker
    finally:
        await runner.cleanup()
        broker.stop()
        await producer.stop()


async def test_broker_down_gives_503_with_retry_after_in_bounded_time(
    doomed_collector: tuple[CollectorHandle, EmbeddedBroker], http: aiohttp.ClientSession
) -> None:
    """With the broker gone, the collector answers 503 + Retry-After within its produce timeout
    (never a 200), and /readyz turns 503."""
    collector, broker = doomed_collector
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200
    broker.stop()
    for _ in range(2):
        started = time.monotonic()
        async with http.post(
            f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)
        ) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "5"
            assert (await r.json())["error"]["code"] == "unavailable"
        assert time.monotonic() - started < 10
    async with http.get(f"{collector.url}/readyz") as r:
        assert r.status == 503
    async with http.get(f"{collector.url}/healthz") as r:
        assert r.status == 200


async def test_pending_produces_are_bounded(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """A request that would push the unacknowledged produces over the cap is refused at once
    with 503 instead of queueing, and nothing of it is produced."""
    collector: CollectorHandle = await make_collector(max_pending_produces=2)
    batch = [{**EVENT, "type": "track"}] * 3
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 503
        assert "Retry-After" in r.headers
    assert await collector.records() == []
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch[:2]}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
