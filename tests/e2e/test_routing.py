"""Routing through the stream: demo requests reach a rep's sequence exactly once, even when the
worker process is SIGKILLed while it enrols."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from leadgate.settings import Settings
from tests.e2e.conftest import MakePipeline, Pipeline
from tests.plugins.streams import (
    REPO,
    identify,
    produce_events,
    prospect_emails,
    read_topic,
    spawn_worker,
    track,
    wait_for,
)

ROUTING = REPO / "presets" / "outreach-demo-routing.yaml"


def routed(settings: Settings) -> Settings:
    """The same settings with the demo routing preset."""
    pipeline = settings.pipeline.model_copy(update={"presets": (ROUTING,)})
    return settings.model_copy(update={"pipeline": pipeline})


def demo(user: str, plan: str) -> dict[str, Any]:
    """A Demo Requested track with ``properties.plan``."""
    event = track(user, "Demo Requested")
    event["properties"] = {"plan": plan}
    return event


def _stream(users: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """Per user an identify and one to three demo requests; whether each email is enrolled
    (its first request decides: a paid plan creates and enrols, a free one creates only)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    enrolled: dict[str, bool] = {}
    for n in range(users):
        user, email = f"route-{n}", f"route{n}@gmail.com"
        events.append(identify(user, email))
        plans = [rng.choice(("enterprise", "business", "free")) for _ in range(rng.randint(1, 3))]
        events.extend(demo(user, plan) for plan in plans)
        enrolled[email] = plans[0] != "free"
    return events, enrolled


def rel(resource: dict[str, Any], name: str) -> int | None:
    """A related id of a rendered resource."""
    data = resource["relationships"][name]["data"]
    return None if data is None else int(data["id"])


async def _states(pipeline: Pipeline) -> list[dict[str, Any]]:
    return await pipeline.sandbox.listing("sequenceStates")


async def _settled(pipeline: Pipeline, enrolled: dict[str, bool]) -> None:
    """Wait until every prospect exists and every enrolment is made."""

    async def done() -> bool:
        prospects = await pipeline.sandbox.prospects()
        states = await _states(pipeline)
        return len(prospects) >= len(enrolled) and len(states) >= sum(enrolled.values())

    await wait_for(done, timeout_s=240, interval_s=0.5)


async def _assert_routed_once(pipeline: Pipeline, enrolled: dict[str, bool]) -> Counter[int]:
    """One prospect per email, each with an owner (alice or bob) and the stage Inbound; one
    state per enrolled prospect in Inbound Demo Request, from its owner's mailbox."""
    prospects = await pipeline.sandbox.prospects()
    assert Counter(prospect_emails(prospects)) == Counter(set(enrolled))
    by_id = {p["id"]: p for p in prospects}
    assert {rel(p, "owner") for p in prospects} == {2, 3}
    assert {rel(p, "stage") for p in prospects} == {2}
    states = await _states(pipeline)
    per_prospect = Counter(rel(s, "prospect") for s in states)
    for state in states:
        prospect = by_id[rel(state, "prospect")]
        assert rel(state, "sequence") == 1
        assert rel(state, "mailbox") == rel(prospect, "owner")  # mailbox n belongs to user n
    wanted = {p["id"] for p in prospects if enrolled[p["attributes"]["emails"][0]]}
    assert set(per_prospect) == wanted
    return per_prospect  # type: ignore[return-value]


@pytest.mark.slow  # four kill -9s, each worker restart rejoins the group: 20-50 s alone
async def test_kill_minus_nine_during_enrolments_enrols_each_prospect_once(
    make_pipeline: MakePipeline, tmp_path: Path
) -> None:
    """Demo requests flow while the worker is SIGKILLed 4 times as enrolments go out, then
    restarted. The sandbox accepts duplicate enrolments here (a test oracle; Outreach would
    refuse them), so a double enrolment would show: there is none, and the 422 that Outreach
    gives for one is never needed."""
    pipeline = await make_pipeline(
        start=False,
        sandbox={"rate_limit": 1_000_000, "allow_duplicate_enrolments": True},
        kafka={"session_timeout_ms": 6000},
        link_accounts=False,
    )
    settings = routed(pipeline.settings)
    events, enrolled = _stream(300, seed=12)
    log = tmp_path / "worker.log"
    kafka = settings.kafka
    size = -(-len(events) // 10)
    rng = random.Random(4)

    async def produce_slowly() -> None:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            await produce_events(kafka.bootstrap_servers, kafka.events_topic, chunk)
            await asyncio.sleep(0.5)

    producing = asyncio.create_task(produce_slowly())
    worker = await spawn_worker(settings, log=log)
    kills = 0
    try:
        for _ in range(4):
            before = len(await _states(pipeline))

            async def enrolling(before: int = before) -> bool:
                return len(await _states(pipeline)) > before or producing.done()

            await wait_for(enrolling, timeout_s=90, interval_s=0.1)
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            worker.kill()
            await worker.wait()
            kills += 1
            worker = await spawn_worker(settings, log=log)
        await producing
        await _settled(pipeline, enrolled)
        await asyncio.sleep(2.0)  # anything still in flight would show as a second state
        per_prospect = await _assert_routed_once(pipeline, enrolled)
        doubles = sum(n - 1 for n in per_prospect.values())
        posts = [
            r
            for r in await pipeline.sandbox.api_requests()
            if r["path"] == "/api/v2/sequenceStates" and r["method"] == "POST"
        ]
        refused = [r for r in posts if r["status"] != 201]
        print(
            f"\nrouting kill -9 run: events={len(events)} kills={kills} "
            f"prospects={len(enrolled)} enrolled={len(per_prospect)} double_enrolments={doubles} "
            f"refused_posts={len(refused)}"
        )
        assert doubles == 0
        assert refused == []
        assert kills == 4
        traces = [
            orjson.loads(r.value)
            for r in await read_topic(kafka.bootstrap_servers, kafka.traces_topic)
        ]
        decided = [
            stage
            for trace in traces
            if trace.get("stage") == "delivery"
            for stage in trace.get("stages") or []
        ]
        assert {s["stage"] for s in decided} >= {"route", "owner", "prospect stage", "sequence"}
        # (a kill can lose a trace, so the exact count is the sandbox's, checked above)
        assert any(s["stage"] == "sequence" and s["reason"] == "enrolled" for s in decided)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        producing.cancel()
