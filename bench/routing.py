"""Routing (issue 12): Outreach requests per routed lead, and enrolments per prospect under
redelivery and kill -9, through the real processor and delivery worker and the demo routing
preset (``presets/outreach-demo-routing.yaml``) against a sandbox's default org.

1. ``new`` new visitors each request a demo on a paid plan: each becomes a prospect owned by
   alice or bob (round robin), stage Inbound, enrolled in "Inbound Demo Request" from the
   owner's mailbox. ``routing_calls_per_lead`` = API requests ÷ leads (the directory look-ups
   of users, stage, sequence and mailboxes are paid once and cached). Free-mail addresses, so
   no account requests are counted (account linking is P4's measure).
2. The same visitors send the same request again (new messageIds, same data):
   ``routing_unchanged_lead_calls`` = API requests (the goal is none).
3. Redelivery: a second delivery group consumes every lead intent again from the start.
4. kill -9: ``kill_leads`` more visitors' requests are produced while a ``leadgate run``
   subprocess is SIGKILLed ``kills`` times and restarted.
``routing_enrolments_per_prospect`` = the most sequenceStates any prospect has in the sequence
after 3 and 4 (the goal is exactly 1); ``routing_enrol_posts_refused`` counts enrolment POSTs
Outreach refused (a 422 "already in this sequence" would mean leadgate relied on Outreach to
stop a double enrolment).
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.p4_calls import _kinds, _Phases
from bench.rig import (
    REPO,
    Sandbox,
    bench_settings,
    create_topics,
    embedded_broker,
    sandbox_process,
    worker_env,
)
from leadgate.kafka.producer import make_producer
from leadgate.runtime.roles import Role, workers
from leadgate.settings import Settings

ROUTING = REPO / "presets" / "outreach-demo-routing.yaml"
CONSENT = {"categories": {"marketing": True}}


def demo_request(user: int, plan: str = "enterprise") -> dict[str, Any]:
    """A visitor's Demo Requested on ``plan``, carrying their traits."""
    return {
        "type": "track",
        "event": "Demo Requested",
        "messageId": str(uuid.uuid4()),
        "anonymousId": f"anon-routing-{user}",
        "properties": {"plan": plan},
        "context": {
            "consent": CONSENT,
            "traits": {
                "email": f"visitor.{user}@gmail.com",
                "firstName": "Jane",
                "lastName": f"Doe{user}",
                "title": "Head of Growth",
            },
        },
        "receivedAt": "2026-11-23T10:00:00.010Z",
    }


def _routed(settings: Settings, **kafka: Any) -> Settings:
    pipeline = settings.pipeline.model_copy(update={"presets": (ROUTING,)})
    update: dict[str, Any] = {"pipeline": pipeline}
    if kafka:
        update["kafka"] = settings.kafka.model_copy(update=kafka)
    return settings.model_copy(update=update)


async def _listing(sandbox: Sandbox, plural: str) -> list[dict[str, Any]]:
    async with sandbox.session.get(f"{sandbox.url}/__sandbox/{plural}") as response:
        response.raise_for_status()
        data: list[dict[str, Any]] = orjson.loads(await response.read())["data"]
        return data


async def _per_prospect(sandbox: Sandbox) -> Counter[int]:
    states = await _listing(sandbox, "sequenceStates")
    return Counter(int(s["relationships"]["prospect"]["data"]["id"]) for s in states)


async def _wait_states(sandbox: Sandbox, count: int, timeout_s: float = 180.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(await _listing(sandbox, "sequenceStates")) < count:
        if loop.time() > deadline:
            raise RuntimeError(f"fewer than {count} enrolments after {timeout_s:.0f} s")
        await asyncio.sleep(0.5)


async def _spawn(settings: Settings, log: Path) -> asyncio.subprocess.Process:
    env = worker_env(settings)
    env["LEADGATE_PIPELINE__PRESETS"] = orjson.dumps([str(ROUTING)]).decode()
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "leadgate.cli",
            "run",
            "--role",
            "all",
            env=env,
            cwd=str(REPO),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )


async def _kill_phase(
    settings: Settings,
    producer: AIOKafkaProducer,
    sandbox: Sandbox,
    tmp: Path,
    leads: int,
    kills: int,
) -> int:
    """Produce ``leads`` paid demo requests while a worker process is SIGKILLed ``kills`` times;
    wait for their enrolments; the number of kills done."""
    before = len(await _listing(sandbox, "sequenceStates"))
    events = [demo_request(u) for u in range(50_000, 50_000 + leads)]
    rng = random.Random(9)
    topic = settings.kafka.events_topic
    worker = await _spawn(settings, tmp / "worker.log")
    done = 0
    try:
        for start in range(0, len(events), max(1, len(events) // 5)):
            for event in events[start : start + max(1, len(events) // 5)]:
                await producer.send(topic, orjson.dumps(event), key=event["anonymousId"].encode())
            await producer.flush()
            if done < kills:
                await asyncio.sleep(rng.uniform(1.0, 2.5))  # mid-flight: enrolments going out
                worker.kill()
                await worker.wait()
                done += 1
                worker = await _spawn(settings, tmp / "worker.log")
        await _wait_states(sandbox, before + leads)
        await asyncio.sleep(2.0)  # anything still in flight would show as a second state
    finally:
        if worker.returncode is None:
            worker.terminate()
            await worker.wait()
    return done


async def run(new: int = 200, kill_leads: int = 150, kills: int = 3) -> dict[str, Any]:
    """Measure routing and return its figures."""
    async with embedded_broker() as broker, sandbox_process() as sandbox:
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-routing-") as tmp:
            base = bench_settings(
                broker.bootstrap,
                Path(tmp) / "state",
                sandbox_url=sandbox.url,
                budget_per_hour=10_000_000,
                link_accounts=False,
            )
            settings = _routed(base)
            await create_topics(settings)
            producer = make_producer(settings.kafka)
            await producer.start()
            try:
                stop = asyncio.Event()
                async with workers(settings, Role.ALL, stop):
                    phases = _Phases(settings, producer)
                    mark = len(await sandbox.api_requests())
                    await phases.send([demo_request(u) for u in range(new)])
                    await phases.settle()
                    log = await sandbox.api_requests()
                    routed = log[mark:]
                    mark = len(log)
                    await phases.send([demo_request(u) for u in range(new)])
                    await phases.settle()
                    unchanged = (await sandbox.api_requests())[mark:]
                stop.set()
                # 3. redelivery: every lead intent again, through a new delivery group
                again = _routed(settings, delivery_group=f"{settings.kafka.delivery_group}-again")
                mark = len(await sandbox.api_requests())
                stop = asyncio.Event()
                async with workers(again, Role.DELIVERY, stop):
                    redelivery = _Phases(again, producer)
                    redelivery.leads_sent = 2 * new  # every intent of phases 1 and 2
                    await redelivery.settle()
                redelivered = (await sandbox.api_requests())[mark:]
                stop.set()
                # 4. kill -9 of a worker process while it enrols
                done = await _kill_phase(settings, producer, sandbox, Path(tmp), kill_leads, kills)
            finally:
                await producer.stop()
            per_prospect = await _per_prospect(sandbox)
            posts = [
                r
                for r in await sandbox.api_requests()
                if r["method"] == "POST" and r["path"] == "/api/v2/sequenceStates"
            ]
    refused = sum(1 for r in posts if r["status"] != 201)
    return {
        "routing_calls_per_lead": round(len(routed) / new, 3),
        "routing_unchanged_lead_calls": len(unchanged),
        "routing_enrolments_per_prospect": max(per_prospect.values()),
        "routing_enrol_posts_refused": refused,
        "routing_mix": f"{new} new paid demo requests (free-mail, enrolled); the same again; "
        f"a full redelivery; {kill_leads} more under {done} x kill -9",
        "routing_requests": _kinds(routed),
        "routing_redelivery_requests": _kinds(redelivered),
        "routing_prospects_enrolled": len(per_prospect),
    }
