"""Streaming-runtime fixtures and helpers: Segment event factories, full ``Settings`` on the test
broker and sandbox, reading topics back, committed-offset checks, and worker subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from leadgate.settings import KafkaSettings, Settings

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "presets" / "outreach-lead-capture.yaml"
CONSENTED = {"categoryPreferences": {"marketing": True}}
REFUSED = {"categoryPreferences": {"marketing": False}}


def identify(
    user: str, email: str | None, *, consent: dict[str, Any] | None = None, **traits: Any
) -> dict[str, Any]:
    """An identify event for ``user`` (messageId fresh), with consent granted by default."""
    all_traits = {"firstName": "Test", "lastName": user, **traits}
    if email is not None:
        all_traits["email"] = email
    return {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "anonymousId": f"anon-{user}",
        "traits": all_traits,
        "context": {"consent": CONSENTED if consent is None else consent},
        "receivedAt": "2025-01-01T00:00:00Z",
    }


def track(user: str, name: str, *, consent: dict[str, Any] | None = None) -> dict[str, Any]:
    """A track event ``name`` for ``user`` (messageId fresh), consent granted by default."""
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "anonymousId": f"anon-{user}",
        "event": name,
        "properties": {},
        "context": {"consent": CONSENTED if consent is None else consent},
        "receivedAt": "2025-01-01T00:00:01Z",
    }


def key_of(event: dict[str, Any]) -> bytes | None:
    """The collector's record key: anonymousId, else userId."""
    key = event.get("anonymousId") or event.get("userId")
    return str(key).encode() if key else None


async def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]
) -> None:
    """Produce (key, value) pairs with a plain aiokafka producer and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_events(bootstrap: str, topic: str, events: Iterable[dict[str, Any]]) -> None:
    """Produce Segment events as the collector would (JSON value, identity key)."""
    await produce(bootstrap, topic, ((key_of(e), orjson.dumps(e)) for e in events))


async def _scan(
    bootstrap: str,
    topic: str,
    before_reading: Callable[[list[TopicPartition]], Awaitable[None]] | None = None,
) -> tuple[list[Any], dict[TopicPartition, int]]:
    """Every record of ``topic`` and each partition's true end offset (``before_reading`` is
    awaited with the partitions once they are known, before the first fetch).

    The embedded broker answers ListOffsets(latest) wrongly for multi-record batches (it
    counts batches), so the end comes from the fetch responses' high watermarks instead.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if before_reading is not None:
            await before_reading(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for chunk in batch.values():
                records.extend(chunk)
            if batch:
                continue
            ends = {tp: consumer.highwater(tp) for tp in tps}
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(end is not None and positions[tp] >= end for tp, end in ends.items()):
                return records, {tp: int(end) for tp, end in ends.items() if end is not None}
        raise AssertionError(f"could not read {topic} to its end")
    finally:
        await consumer.stop()


async def read_records(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The first ``count`` records of ``topic`` (no group), waiting up to 30 s for them."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        records: list[Any] = []
        async with asyncio.timeout(30):
            while len(records) < count:
                for part in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(part)
        return records
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic``, from the beginning to its current end."""
    records, _ = await _scan(bootstrap, topic)
    return records


async def lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` not yet committed by ``group`` (true end offset minus committed).

    The commits are read first and the end after: the scan takes a while, and commits read
    after it could pass the end it saw, which would hide records still in flight."""
    committed: dict[TopicPartition, Any] = {}

    async def read_commits(tps: list[TopicPartition]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            committed.update(await admin.list_consumer_group_offsets(group, partitions=tps))
        finally:
            await admin.close()

    _, ends = await _scan(bootstrap, topic, read_commits)
    total = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        total += end - done
    return total


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float, interval_s: float = 0.2
) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took, fails after the timeout."""
    start = time.monotonic()
    while True:
        if await condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


def prospect_emails(prospects: list[dict[str, Any]]) -> list[str]:
    """The first email of every sandbox prospect (one entry per prospect, duplicates kept)."""
    return [p["attributes"]["emails"][0] for p in prospects if p["attributes"].get("emails")]


def worker_env(settings: Settings, *, log_level: str = "warning") -> dict[str, str]:
    """The environment that makes a ``leadgate run`` subprocess use exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    kafka = settings.kafka.model_dump()
    for name, value in kafka.items():
        env[f"LEADGATE_KAFKA__{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    outreach = settings.outreach
    env.update(
        {
            "LEADGATE_STATE_DIR": str(settings.state_dir),
            "LEADGATE_LOG_LEVEL": log_level,
            "LEADGATE_OUTREACH__BASE_URL": outreach.base_url,
            "LEADGATE_OUTREACH__BUDGET_PER_HOUR": str(outreach.budget_per_hour),
            "LEADGATE_OUTREACH__COALESCE_WINDOW_S": str(outreach.coalesce_window_s),
            "LEADGATE_OUTREACH__BACKOFF_BASE_S": str(outreach.backoff_base_s),
            "LEADGATE_OUTREACH__BACKOFF_CAP_S": str(outreach.backoff_cap_s),
            "LEADGATE_OUTREACH__LINK_ACCOUNTS": str(outreach.link_accounts).lower(),
            "LEADGATE_PIPELINE__PRESETS": orjson.dumps(
                [str(p) for p in settings.pipeline.presets]
            ).decode(),
        }
    )
    if settings.state.url is not None:
        env["LEADGATE_STATE__URL"] = settings.state.url.get_secret_value()
        env["LEADGATE_STATE__NAMESPACE"] = settings.state.namespace
    return env


async def spawn_worker(
    settings: Settings,
    *,
    role: str = "all",
    log: Path | None = None,
    processes: int = 1,
    log_level: str = "warning",
) -> asyncio.subprocess.Process:
    """Start ``python -m leadgate.cli run --role ROLE [--processes N]`` configured by
    ``settings``."""
    if log is None:
        return await _spawn(settings, role, processes, log_level, asyncio.subprocess.DEVNULL)
    # the child inherits its own copy of the descriptor: ours closes once the child has it
    with log.open("ab") as stderr:
        return await _spawn(settings, role, processes, log_level, stderr)


async def _spawn(
    settings: Settings, role: str, processes: int, log_level: str, stderr: Any
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadgate.cli",
        "run",
        "--role",
        role,
        *(["--processes", str(processes)] if processes > 1 else []),
        env=worker_env(settings, log_level=log_level),
        cwd=str(REPO),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


@pytest.fixture
def make_settings(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> Callable[..., Settings]:
    """Factory: full ``Settings`` on the test broker (own topics), a temp state dir, the shipped
    preset, a budget large enough not to throttle; ``kafka``/``outreach`` dicts override."""

    def make(
        *,
        sandbox_url: str,
        kafka: dict[str, Any] | None = None,
        presets: tuple[Path, ...] = (PRESET,),
        outcomes: dict[str, Any] | None = None,
        **outreach: Any,
    ) -> Settings:
        outreach_values: dict[str, Any] = {
            "base_url": sandbox_url,
            "budget_per_hour": 10_000_000,
            "coalesce_window_s": 0.2,
            "backoff_base_s": 0.2,
            "backoff_cap_s": 2.0,
            **outreach,
        }
        return Settings(
            state_dir=tmp_path / f"state-{uuid.uuid4().hex[:6]}",
            kafka=make_kafka_settings(**(kafka or {})),
            outreach=outreach_values,
            pipeline={"presets": presets},
            outcomes=outcomes or {},
        )

    return make
