"""P4: Outreach requests per delivered lead, through the real processor and delivery worker.

Production settings (coalescing window 1 s, account linking on, SQLite store in a temp dir),
except the client's request budget, which is lifted: the sandbox runs unthrottled in its own
process and P4 counts requests, not time. Three phases, each finished when the delivery
group has committed every lead intent the processor wrote:

1. seed: ``returning`` leads are delivered once (their companies' accounts too); not counted;
2. the measured mix: ``new`` new leads (one event each), the ``returning`` leads again with a
   changed job title, and ``bursts`` new leads sending 3 different lead events 0.3 s apart
   (within 1 s). ``p4_calls_per_lead`` = API requests in this phase ÷ leads in it;
3. ``unchanged`` returning leads send the same event with the same data again:
   ``p4_unchanged_lead_calls`` = API requests in this phase (the goal is none).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.rig import (
    bench_settings,
    committed_total,
    create_topics,
    embedded_broker,
    sandbox_process,
)
from bench.workload import LEAD_EVENTS
from leadgate.kafka.producer import make_producer
from leadgate.runtime.roles import Role, workers
from leadgate.settings import Settings

# The sandbox is unthrottled and so is the client's budget: P4 counts requests, not time.
UNTHROTTLED = {"budget_per_hour": 10_000_000}
CONSENT = {"categories": {"marketing": True, "analytics": True}}


def lead_event(user: int, name: str, *, title: str = "Head of Growth") -> dict[str, Any]:
    """A form submission of ``user`` carrying its traits (email, name, title, company...)."""
    return {
        "type": "track",
        "event": name,
        "messageId": str(uuid.uuid4()),
        "anonymousId": f"anon-p4-{user}",
        "properties": {"source": "web"},
        "context": {
            "consent": CONSENT,
            "traits": {
                "email": f"Person.{user}@Company{user % 97}.example.com",
                "firstName": "Jane",
                "lastName": f"Doe{user}",
                "company": f"Company {user % 97}",
                "title": title,
                "phone": f"+44 7700 9{user % 100000:05d}",
            },
        },
        "receivedAt": "2026-11-23T10:00:00.010Z",
    }


class _Phases:
    """Produces events as the collector would and waits until the delivery worker is done."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.leads_sent = 0

    async def send(self, events: list[dict[str, Any]]) -> None:
        topic = self.settings.kafka.events_topic
        acks = [
            await self.producer.send(topic, orjson.dumps(e), key=e["anonymousId"].encode())
            for e in events
        ]
        await asyncio.gather(*acks)
        self.leads_sent += len(events)

    async def settle(self, timeout_s: float = 120.0) -> None:
        """Wait until the delivery group has committed every lead intent sent so far."""
        kafka = self.settings.kafka
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = await committed_total(
                kafka.bootstrap_servers,
                kafka.delivery_group,
                kafka.delivery_topic,
                kafka.partitions,
            )
            if done >= self.leads_sent:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(
            f"delivery finished {done} of {self.leads_sent} lead intents in {timeout_s:.0f} s"
        )


def _kinds(log: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(f"{r['method']} {r['path'].rstrip('0123456789')}" for r in log)
    return dict(sorted(counts.items()))


async def run(
    new: int = 100, returning: int = 100, bursts: int = 50, unchanged: int = 50
) -> dict[str, Any]:
    """Measure P4 and return its figures."""
    async with embedded_broker() as broker, sandbox_process() as sandbox:
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-p4-") as tmp:
            settings = bench_settings(
                broker.bootstrap, Path(tmp) / "state", sandbox_url=sandbox.url, **UNTHROTTLED
            )
            await create_topics(settings)
            producer = make_producer(settings.kafka)
            await producer.start()
            stop = asyncio.Event()
            try:
                async with workers(settings, Role.ALL, stop):
                    phases = _Phases(settings, producer)
                    # 1. seed the returning leads
                    await phases.send([lead_event(u, LEAD_EVENTS[0]) for u in range(returning)])
                    await phases.settle()
                    mark = len(await sandbox.api_requests())
                    # 2. the measured mix
                    new_users = range(10_000, 10_000 + new)
                    burst_users = range(20_000, 20_000 + bursts)
                    first = [lead_event(u, LEAD_EVENTS[1]) for u in new_users]
                    first += [
                        lead_event(u, LEAD_EVENTS[1], title="VP Growth") for u in range(returning)
                    ]
                    first += [lead_event(u, LEAD_EVENTS[0]) for u in burst_users]
                    await phases.send(first)
                    for name in LEAD_EVENTS[1:3]:
                        await asyncio.sleep(0.3)
                        await phases.send([lead_event(u, name) for u in burst_users])
                    await phases.settle()
                    log = await sandbox.api_requests()
                    mix = log[mark:]
                    # 3. returning leads whose data did not change
                    mark = len(log)
                    same = [
                        lead_event(u, LEAD_EVENTS[1], title="VP Growth") for u in range(unchanged)
                    ]
                    await phases.send(same)
                    await phases.settle()
                    still = (await sandbox.api_requests())[mark:]
            finally:
                stop.set()
                await producer.stop()
    leads = new + returning + bursts
    return {
        "p4_calls_per_lead": round(len(mix) / leads, 3),
        "p4_unchanged_lead_calls": len(still),
        "p4_mix": f"{new} new, {returning} returning (changed title), {bursts} bursts of 3",
        "p4_mix_requests": _kinds(mix),
        "p4_unchanged_requests": _kinds(still),
    }
