"""Fixtures and helpers shared by the Kafka adapter tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest_asyncio

from leadgate.kafka.producer import make_producer
from leadgate.settings import KafkaSettings


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll a synchronous ``condition`` until it holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[object]:
    """A started producer on the test's topics."""
    started = make_producer(kafka_settings)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
