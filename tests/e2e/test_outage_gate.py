"""Outreach down for everyone: leads wait behind one shared health gate, one probe at a time,
and the first probe that gets an answer releases them all (issue 15 §4)."""

from __future__ import annotations

import asyncio

import orjson

from tests.e2e.conftest import MakePipeline
from tests.plugins.streams import (
    identify,
    produce_events,
    prospect_emails,
    read_topic,
    track,
    wait_for,
)

LEADS = 20
CLOSE_AFTER = 3
IN_FLIGHT = 4


async def test_an_outage_holds_leads_behind_the_gate_and_one_probe_releases_them(
    make_pipeline: MakePipeline,
) -> None:
    """A short total outage (every API request 503) with leads arriving throughout: the 503s are
    the few that closed the gate plus the failed probes (no lead backs off or hammers on its
    own), the gate closes once and opens once, every lead is delivered exactly once and nothing
    is dead-lettered."""
    pipeline = await make_pipeline(
        max_in_flight=IN_FLIGHT,
        health_close_after=CLOSE_AFTER,
        health_probe_interval_s=0.3,
        backoff_cap_s=30.0,
    )
    kafka = pipeline.settings.kafka
    await pipeline.sandbox.faults(status=503, duration_s=4)
    for wave in range(2):
        events = []
        for n in range(wave * LEADS // 2, (wave + 1) * LEADS // 2):
            events += [identify(f"gate-{n}", f"gate{n}@gmail.com"), track(f"gate-{n}", "Signed Up")]
        await produce_events(kafka.bootstrap_servers, kafka.events_topic, events)
        await asyncio.sleep(1.5)

    async def all_delivered() -> bool:
        return len(await pipeline.sandbox.prospects()) >= LEADS

    await wait_for(all_delivered, timeout_s=90, interval_s=0.3)
    assert pipeline.workers is not None
    assert pipeline.workers.delivery is not None
    gate = pipeline.workers.delivery.gate
    requests = await pipeline.sandbox.requests()
    failed = [r for r in requests if r["status"] == 503]
    assert gate.closings == 1, "closed once"
    assert not gate.closed, "released"
    assert failed, "the outage was felt"
    # Before the gate closed at most CLOSE_AFTER failures plus the requests already in flight;
    # after it, only the probes (all but the last, which got through).
    assert len(failed) <= CLOSE_AFTER + IN_FLIGHT + (gate.probes - 1)
    emails = prospect_emails(await pipeline.sandbox.prospects())
    assert sorted(emails) == sorted(f"gate{n}@gmail.com" for n in range(LEADS)), "no duplicate"
    assert await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic) == []


async def test_each_retry_shows_its_real_attempt_number(make_pipeline: MakePipeline) -> None:
    """A lead that fails twice then succeeds has three delivery trace records whose requests
    are numbered attempt 1, 2 and 3 (not attempt 1 each time)."""
    pipeline = await make_pipeline(health_close_after=10)
    kafka = pipeline.settings.kafka
    await pipeline.sandbox.faults(status=503, count=2)
    events = [identify("tries-1", "tries1@gmail.com"), track("tries-1", "Signed Up")]
    await produce_events(kafka.bootstrap_servers, kafka.events_topic, events)

    async def delivered() -> bool:
        return len(await pipeline.sandbox.prospects()) == 1

    await wait_for(delivered, timeout_s=60)
    traces = [
        orjson.loads(r.value) for r in await read_topic(kafka.bootstrap_servers, kafka.traces_topic)
    ]
    tries = [t for t in traces if t.get("stage") == "delivery"]
    assert [t["outcome"] for t in tries] == ["pending", "pending", "delivered"]
    assert [{e["attempt"] for e in t["exchanges"]} for t in tries] == [{1}, {2}, {3}]
    assert [t["reason"] for t in tries[:2]] == ["vendor_5xx", "vendor_5xx"]
