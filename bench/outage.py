"""outage_recovery_s: seconds from Outreach being healthy again to the last waiting lead arriving.

Issue 15 §4. The processor and the delivery worker run in this process (production wiring,
SQLite store in a temp dir, the budget lifted as in P5, production retry and health-gate
settings); the sandbox runs in its own process. After one warm-up lead, the sandbox answers
every API request with 503 for ``outage_s`` (its fault injection) while a new lead (a new person
with marketing consent and an email) is produced every ``1 / rate`` seconds throughout; then
Outreach is healthy again. A lead has arrived when the first request carrying its email gets a
2xx. The figure is the last arrival minus the moment the outage ended (the sandbox's own clock
of the fault, same host). Duplicates (prospects beyond one per email) and dead letters are
counted too; both must be 0.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from bench.rig import (
    Sandbox,
    bench_settings,
    create_topics,
    embedded_broker,
    request_epoch,
    sandbox_process,
)
from leadgate.kafka.producer import make_producer
from leadgate.runtime.roles import Role, Workers, workers
from leadgate.settings import Settings

_MARK = "outage."


def _lead(n: int) -> tuple[str, bytes, bytes]:
    email = f"{_MARK}{n}@company{n % 37}.example.com"
    event = {
        "type": "track",
        "event": "Demo Requested",
        "messageId": str(uuid.uuid4()),
        "anonymousId": f"anon-outage-{n}",
        "properties": {},
        "context": {
            "consent": {"categories": {"marketing": True}},
            "traits": {"email": email, "firstName": "Out", "lastName": f"Age{n}"},
        },
    }
    return email, f"anon-outage-{n}".encode(), orjson.dumps(event)


def _arrivals(log: list[dict[str, Any]]) -> dict[str, float]:
    """Email -> when the first successful API request carrying it reached the sandbox."""
    first: dict[str, float] = {}
    for entry in log:
        status = entry.get("status")
        if not isinstance(status, int) or not 200 <= status < 300:
            continue
        text = unquote(str(entry.get("query"))) + orjson.dumps(entry.get("body")).decode()
        start = text.find(_MARK)
        if start < 0:
            continue
        email = text[start:].split('"', 1)[0].split("'", 1)[0].split(",", 1)[0]
        first.setdefault(email, request_epoch(entry))
    return first


async def _post(sandbox: Sandbox, what: str, body: dict[str, Any]) -> None:
    async with sandbox.session.post(f"{sandbox.url}/__sandbox/{what}", json=body) as response:
        response.raise_for_status()


async def _prospect_emails(sandbox: Sandbox) -> list[str]:
    async with sandbox.session.get(f"{sandbox.url}/__sandbox/prospects") as response:
        response.raise_for_status()
        body = orjson.loads(await response.read())
    return [p["attributes"]["emails"][0] for p in body["data"] if p["attributes"].get("emails")]


async def _wait_arrived(sandbox: Sandbox, emails: list[str], deadline: float) -> dict[str, float]:
    """Poll the sandbox's log until every one of ``emails`` arrived (or the deadline passed)."""
    arrived: dict[str, float] = {}
    while time.time() < deadline:
        arrived = _arrivals(await sandbox.api_requests())
        if all(email in arrived for email in emails):
            return arrived
        await asyncio.sleep(0.5)
    return arrived


async def _joined(running: Workers) -> None:
    loops = [w.loop for w in (running.processor, running.delivery) if w is not None]
    deadline = time.monotonic() + 120
    while any(loop.assignments == 0 for loop in loops):
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not join their groups")
        await asyncio.sleep(0.1)


async def _dead_letters(settings: Settings) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await consumer.start()
    try:
        topic = settings.kafka.deadletter_topic
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def _one_run(
    settings: Settings, sandbox: Sandbox, outage_s: float, rate: float
) -> dict[str, Any]:
    producer = make_producer(settings.kafka)
    await producer.start()
    stop = asyncio.Event()
    sent: list[str] = []
    try:
        async with workers(settings, Role.ALL, stop) as running:
            await _joined(running)
            warm, key, value = _lead(0)
            await (await producer.send(settings.kafka.events_topic, value, key=key))
            sent.append(warm)
            await _wait_arrived(sandbox, [warm], time.time() + 60)
            await _post(sandbox, "faults", {"status": 503, "duration_s": outage_s})
            healthy_at = time.time() + outage_s
            n = 1
            while time.time() < healthy_at - 0.5 / rate:
                email, key, value = _lead(n)
                await (await producer.send(settings.kafka.events_topic, value, key=key))
                sent.append(email)
                n += 1
                await asyncio.sleep(1.0 / rate)
            arrived = await _wait_arrived(sandbox, sent, healthy_at + 120)
            assert running.delivery is not None
            gate = running.delivery.gate
            closings, probes = gate.closings, gate.probes
    finally:
        await producer.stop()
    waiting = [arrived[e] for e in sent[1:] if e in arrived]
    emails = await _prospect_emails(sandbox)
    return {
        "outage_recovery_s": round(max(waiting) - healthy_at, 2) if waiting else None,
        "outage_duplicates": len(emails) - len(set(emails)),
        "outage_dead_letters": await _dead_letters(settings),
        "outage_leads": len(sent) - 1,
        "outage_leads_not_arrived": len(sent) - 1 - len(waiting),
        "outage_gate_closings": closings,
        "outage_gate_probes": probes,
        "outage_load": f"{outage_s:g} s of 503s, a new lead every {1 / rate:g} s throughout",
    }


async def run(outage_s: float = 180.0, rate: float = 2.0) -> dict[str, Any]:
    """Measure outage recovery and return its figures."""
    async with embedded_broker() as broker, sandbox_process() as sandbox:
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-outage-") as tmp:
            settings = bench_settings(
                broker.bootstrap, Path(tmp) / "state", sandbox_url=sandbox.url,
                budget_per_hour=10_000_000,
            )  # fmt: skip
            await create_topics(settings)
            return await _one_run(settings, sandbox, outage_s, rate)
