"""A process is ready only when it works: ``/readyz`` waits for the workers' consumer groups, and
on the embedded broker a worker joins its group without the 30 s session timeout's wait."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from leadgate.kafka.broker import (
    EMBEDDED_SESSION_TIMEOUT_MS,
    EmbeddedBroker,
    ensure_topics,
    for_embedded,
    topics_of,
    tuned_for_broker,
)
from leadgate.runtime.process import host
from leadgate.runtime.roles import Role
from leadgate.settings import KafkaSettings, Settings, WriteKey
from tests.plugins.events import LEAD_CAPTURE


def _settings(tmp_path: Path, kafka: KafkaSettings) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        http_port=0,
        kafka=kafka,
        collector={"write_keys": (WriteKey(key=SecretStr("wk-readiness-test"), name="web"),)},
        pipeline={"presets": (LEAD_CAPTURE,)},
    )


async def _readyz(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str]]:
    async with session.get(url + "/readyz") as response:
        return response.status, await response.json()


async def test_readyz_answers_503_until_the_workers_consume_then_200(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> None:
    """While the processor's group join is pending /readyz says "starting" (503); once the
    process is ready (the join done) it says "ready" (200)."""
    # 10 s session: the embedded broker answers the join ~5 s after start, time to ask before it
    kafka = make_kafka_settings(session_timeout_ms=10_000)
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    settings = _settings(tmp_path, kafka)
    async with (
        host(settings, role=Role.PROCESSOR, http=True) as running,
        aiohttp.ClientSession() as session,
    ):
        assert running.http is not None
        assert running.workers is not None
        status, body = await _readyz(session, running.http.url)
        assert (status, body) == (503, {"status": "starting", "workers": "joining"})
        await running.ready()
        assert running.workers.consuming()
        assert await _readyz(session, running.http.url) == (200, {"status": "ready"})


async def test_a_process_without_workers_is_ready_when_kafka_answers(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> None:
    """``leadgate serve`` (HTTP only) has no workers to wait for: ready as soon as it serves."""
    kafka = make_kafka_settings()
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    async with (
        host(_settings(tmp_path, kafka), role=None, http=True) as running,
        aiohttp.ClientSession() as session,
    ):
        assert running.http is not None
        assert running.workers is None
        await running.ready()
        assert await _readyz(session, running.http.url) == (200, {"status": "ready"})


async def test_on_the_embedded_broker_the_session_timeout_is_short_unless_configured(
    broker: EmbeddedBroker,
) -> None:
    """The embedded broker is recognised and gets the short session timeout; a configured one
    is kept, and so is the default against a broker that is not the embedded one."""
    default = KafkaSettings(bootstrap_servers=broker.bootstrap)
    tuned = await tuned_for_broker(default)
    assert tuned.session_timeout_ms == EMBEDDED_SESSION_TIMEOUT_MS < default.session_timeout_ms
    configured = KafkaSettings(bootstrap_servers=broker.bootstrap, session_timeout_ms=12_000)
    assert (await tuned_for_broker(configured)).session_timeout_ms == 12_000
    assert for_embedded(configured).session_timeout_ms == 12_000


async def test_a_process_on_the_embedded_broker_runs_its_workers_with_the_short_timeout(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> None:
    """``leadgate run`` with no session timeout configured finds the embedded broker and runs
    its workers with the short timeout, so it becomes ready (its group joined)."""
    values = make_kafka_settings().model_dump()
    del values["session_timeout_ms"]  # as a user who configured none
    kafka = KafkaSettings(**values)
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    async with host(_settings(tmp_path, kafka), role=Role.PROCESSOR, http=False) as running:
        assert running.settings.kafka.session_timeout_ms == EMBEDDED_SESSION_TIMEOUT_MS
        await running.ready()
        assert running.workers is not None
        assert running.workers.consuming()
