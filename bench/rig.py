"""The benchmarks' test rig: the embedded broker, per-measure topics and settings, an Outreach
sandbox in its own process (so it does not share the measured event loop), bulk produce, and
reading the sandbox's request log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from leadgate.kafka.broker import EmbeddedBroker, ensure_topics, free_port, topics_of
from leadgate.settings import KafkaSettings, Settings

REPO = Path(__file__).resolve().parents[1]
PRESET = REPO / "presets" / "outreach-lead-capture.yaml"


@contextlib.asynccontextmanager
async def embedded_broker() -> AsyncIterator[EmbeddedBroker]:
    """A fresh Tansu broker on a free loopback port, stopped on the way out."""
    broker = EmbeddedBroker()
    await broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def bench_settings(
    bootstrap: str,
    state_dir: Path,
    *,
    sandbox_url: str = "http://127.0.0.1:9",
    partitions: int = 6,
    **outreach: Any,
) -> Settings:
    """Production settings on fresh topics and groups (a random tag), a temp state dir."""
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        partitions=partitions,
        events_topic=f"bench-{tag}.events",
        delivery_topic=f"bench-{tag}.delivery",
        deadletter_topic=f"bench-{tag}.deadletter",
        traces_topic=f"bench-{tag}.traces",
        processor_group=f"bench-{tag}-processor",
        delivery_group=f"bench-{tag}-delivery",
        # The embedded broker answers a JoinGroup only after half the session timeout: with
        # production's 30 s every worker start would cost 15 s of idle bench time. It changes
        # how fast a dead member is noticed, nothing that is measured.
        session_timeout_ms=10_000,
    )
    return Settings(
        state_dir=state_dir,
        log_level="warning",
        kafka=kafka,
        outreach={"base_url": sandbox_url, **outreach},
        pipeline={"presets": (PRESET,)},
    )


async def create_topics(settings: Settings) -> None:
    """Create the settings' four topics."""
    kafka = settings.kafka
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)


async def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]
) -> dict[int, int]:
    """Produce (key, value) pairs, wait for every ack; returns the record count per partition."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    counts: dict[int, int] = {}
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 5000:
                for meta in await asyncio.gather(*pending):
                    counts[meta.partition] = counts.get(meta.partition, 0) + 1
                pending = []
        for meta in await asyncio.gather(*pending):
            counts[meta.partition] = counts.get(meta.partition, 0) + 1
    finally:
        await producer.stop()
    return counts


def raw_consumer(bootstrap: str, group: str | None, **options: Any) -> AIOKafkaConsumer:
    """A plain aiokafka consumer from the earliest offset (the baseline's consumer)."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )


async def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """How many records ``group`` has committed on ``topic`` (sum of committed offsets)."""
    consumer = raw_consumer(bootstrap, group)
    await consumer.start()
    try:
        total = 0
        for p in range(partitions):
            offset = await consumer.committed(TopicPartition(topic, p))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


@dataclass
class Sandbox:
    """An Outreach sandbox running as ``leadgate sandbox`` in a subprocess."""

    url: str
    process: asyncio.subprocess.Process
    session: aiohttp.ClientSession

    async def requests(self) -> list[dict[str, Any]]:
        """The request log (API and OAuth requests, oldest first)."""
        async with self.session.get(f"{self.url}/__sandbox/requests") as response:
            response.raise_for_status()
            body = orjson.loads(await response.read())
        data: list[dict[str, Any]] = body["data"]
        return data

    async def api_requests(self) -> list[dict[str, Any]]:
        """The request log without OAuth: what counts against Outreach's budget."""
        return [r for r in await self.requests() if r["path"].startswith("/api/")]

    async def reset(self) -> None:
        """Clear data, log and budget (tokens stay valid)."""
        async with self.session.post(f"{self.url}/__sandbox/reset", json={}) as response:
            response.raise_for_status()


async def served_url(
    server: asyncio.subprocess.Process, who: str, timeout_s: float | None = 60.0
) -> str:
    """The URL a child server prints on stderr (``listening on http://...``), reading its lines
    (each within ``timeout_s``; None waits); RuntimeError naming ``who`` if it exits first."""
    assert server.stderr is not None
    while True:
        line = (await asyncio.wait_for(server.stderr.readline(), timeout_s)).decode()
        if not line:
            raise RuntimeError(f"{who} exited before listening")
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return found.group(1)


def request_epoch(entry: dict[str, Any]) -> float:
    """When the sandbox received a logged request (epoch seconds, millisecond precision)."""
    stamp = dt.datetime.strptime(entry["time"] + "+0000", "%Y-%m-%dT%H:%M:%S.%fZ%z")
    return stamp.timestamp()


@contextlib.asynccontextmanager
async def sandbox_process(
    *, rate_limit: int = 10_000_000, window_s: float = 3600.0, latency_ms: int = 0
) -> AsyncIterator[Sandbox]:
    """``leadgate sandbox`` on a free port in its own process (its CPU is not ours to measure)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadgate.cli",
        "sandbox",
        "--port",
        str(port),
        "--rate-limit",
        str(rate_limit),
        "--window",
        str(window_s),
        "--latency-ms",
        str(latency_ms),
        cwd=str(REPO),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    session = aiohttp.ClientSession()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with session.get(f"{url}/__sandbox/state") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            await asyncio.sleep(0.1)
        yield Sandbox(url, process, session)
    finally:
        await session.close()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def production_logging(level: str = "info") -> None:
    """Log as production does (JSON, every drop at info), rendered in full but written to
    /dev/null: the rendering cost is measured, a terminal's is not."""
    from leadgate.observability.logging import configure_logging

    configure_logging(fmt="json", level=level, stream=open(os.devnull, "w"))  # noqa: SIM115


def lead_intents(count: int, *, first_user: int = 100_000) -> list[tuple[bytes, bytes]]:
    """``count`` lead intents of distinct new leads, as the processor writes them to the
    delivery topic: (key = normalised email, value = ``LeadIntent.to_bytes()``)."""
    from bench.workload import lead_stream
    from leadgate.domain.profile import Profile
    from leadgate.pipeline.presets import load_preset
    from leadgate.pipeline.process import process

    template = process(next(lead_stream(1)), Profile(), load_preset(PRESET)).lead
    assert template is not None, "the preset dropped the lead template"
    base = template.model_dump(mode="json")
    out: list[tuple[bytes, bytes]] = []
    for n in range(first_user, first_user + count):
        email = f"person.{n}@company{n % 97}.example.com"
        intent = {
            **base,
            "email": email,
            "attributes": {**base["attributes"], "emails": [email], "lastName": f"Doe{n}"},
            "account": {"domain": f"company{n % 97}.example.com", "name": f"Company {n % 97}"},
            "identities": [f"anon:anon-bench-{n}"],
            "message_ids": [str(uuid.UUID(int=n, version=4))],
        }
        out.append((email.encode(), orjson.dumps(intent)))
    return out


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``leadgate run`` subprocess use exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    for name, value in settings.kafka.model_dump().items():
        env[f"LEADGATE_KAFKA__{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    outreach = settings.outreach
    env.update(
        {
            "LEADGATE_STATE_DIR": str(settings.state_dir),
            "LEADGATE_LOG_LEVEL": settings.log_level,
            "LEADGATE_OUTREACH__BASE_URL": outreach.base_url,
            "LEADGATE_OUTREACH__BUDGET_PER_HOUR": str(outreach.budget_per_hour),
            "LEADGATE_PIPELINE__PRESETS": orjson.dumps([str(PRESET)]).decode(),
        }
    )
    return env
