"""The embedded broker fixture: one real Tansu broker per test session (never skipped)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from leadgate.kafka.broker import EmbeddedBroker, ensure_topics, topics_of
from leadgate.settings import KafkaSettings


@pytest_asyncio.fixture(scope="session")
async def broker() -> AsyncIterator[EmbeddedBroker]:
    """A running embedded broker for the whole session."""
    embedded = EmbeddedBroker()
    await embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def make_kafka_settings(broker: EmbeddedBroker) -> Callable[..., KafkaSettings]:
    """Factory: KafkaSettings on the session broker with topic and group names unique to the
    calling test (so tests never see each other's records); overrides as keyword arguments."""

    def make(**overrides: object) -> KafkaSettings:
        suffix = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "bootstrap_servers": broker.bootstrap,
            "partitions": 3,
            "events_topic": f"t{suffix}.events",
            "delivery_topic": f"t{suffix}.delivery.outreach",
            "deadletter_topic": f"t{suffix}.deadletter",
            "traces_topic": f"t{suffix}.traces",
            "outcomes_topic": f"t{suffix}.outcomes",
            "inbound_topic": f"t{suffix}.inbound.outreach",
            "changes_topic": f"t{suffix}.outreach.changes",
            "inbound_group": f"g{suffix}-inbound",
            "processor_group": f"g{suffix}-processor",
            "delivery_group": f"g{suffix}-delivery",
            "session_timeout_ms": 10_000,
            "rebalance_timeout_ms": 30_000,
            "drain_timeout_s": 10.0,
        }
        values.update(overrides)
        return KafkaSettings(**values)

    return make


@pytest_asyncio.fixture
async def kafka_settings(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> KafkaSettings:
    """KafkaSettings with this test's own topics, already created."""
    settings = make_kafka_settings()
    await ensure_topics(settings.bootstrap_servers, topics_of(settings), settings.partitions)
    return settings
