"""The collector fixture: a real collector app on a free loopback port, producing to the
session's embedded broker on this test's own topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, async_playwright
from pydantic import SecretStr

from leadgate.http.app import build_http_app
from leadgate.settings import CollectorSettings, KafkaSettings, Settings, WriteKey
from tests.plugins.streams import read_topic

WRITE_KEY = "wk_test_3f9a1c"
OTHER_KEY = "wk_other_77b2e0"
SHOP_ORIGIN = "https://shop.example"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OTHER_ORIGIN = "https://other.example"


def default_write_keys() -> tuple[WriteKey, ...]:
    """Two sources: "web" (for shop.example) and "other" (for other.example)."""
    return (
        WriteKey(key=SecretStr(WRITE_KEY), name="web", origins=(SHOP_ORIGIN,)),
        WriteKey(key=SecretStr(OTHER_KEY), name="other", origins=(OTHER_ORIGIN,)),
    )


def basic(key: str) -> dict[str, str]:
    """Headers with the write key as the HTTP Basic username, the way Segment's SDKs send it."""
    return {"Authorization": aiohttp.encode_basic_auth(key, "")}


def kafka_producer(kafka: KafkaSettings) -> AIOKafkaProducer:
    """A producer as the collector needs it: every acknowledgement from all in-sync replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=kafka.enable_idempotence,
        request_timeout_ms=kafka.request_timeout_ms,
    )


@dataclass
class Record:
    """One record of the events topic, decoded."""

    key: str | None
    value: dict[str, Any]


@dataclass
class CollectorHandle:
    """A running collector: its base URL, its settings and a view of what it produced."""

    url: str
    settings: Settings
    app: web.Application

    async def records(self, timeout_s: float = 20.0) -> list[Record]:
        """Every record in the events topic right now (the collector answers after the acks,
        so whatever it accepted before this call is included)."""
        return await topic_records(self.settings.kafka, self.settings.kafka.events_topic, timeout_s)


async def topic_records(kafka: KafkaSettings, topic: str, timeout_s: float = 20.0) -> list[Record]:
    """Every record of ``topic`` from the beginning to its true end (the fetch responses' high
    watermarks: the embedded broker under-reports ListOffsets, and an under-read would let
    "exactly once" or "nothing was produced" pass without proof)."""
    async with asyncio.timeout(timeout_s):
        raw = await read_topic(kafka.bootstrap_servers, topic)
    return [Record(r.key.decode() if r.key is not None else None, json.loads(r.value)) for r in raw]


MakeCollector = Callable[..., Awaitable[CollectorHandle]]


@pytest_asyncio.fixture
async def make_collector(kafka_settings: KafkaSettings) -> AsyncIterator[MakeCollector]:
    """Factory: start a collector with ``collector`` settings overridden by keyword arguments
    (write keys default to :func:`default_write_keys`); everything stops after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> CollectorHandle:
            values: dict[str, Any] = {"write_keys": default_write_keys()}
            values.update(overrides)
            settings = Settings(kafka=kafka_settings, collector=CollectorSettings(**values))
            producer = kafka_producer(kafka_settings)
            await producer.start()
            stack.push_async_callback(producer.stop)
            app = build_http_app(settings, producer=producer)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            return CollectorHandle(f"http://127.0.0.1:{port}", settings, app)

        yield make


@pytest_asyncio.fixture
async def collector(make_collector: MakeCollector) -> CollectorHandle:
    """A collector with the default test write keys."""
    return await make_collector()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session (no cookies kept between requests)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    """Poll ``condition`` until it holds (generous timeouts for a busy machine)."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()
