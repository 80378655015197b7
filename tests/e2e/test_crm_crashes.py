"""Opportunities and their roles under kill -9: a ``leadgate run`` worker with
presets/crm-sync.yaml is SIGKILLed three times while opportunities are created and updated;
redelivered intents never make a second opportunity, prospect or role, and the final state is
the source's last word (amounts, and roles removed at the source removed in Outreach)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MakePipeline, Pipeline
from tests.plugins.streams import REPO, lag, produce_events, spawn_worker, wait_for

CRM = REPO / "presets" / "crm-sync.yaml"
VERSIONS = 4


def _contacts(n: int, version: int) -> list[dict[str, Any]]:
    """Ann is related twice (two roles) until the last version drops her Champion role."""
    ann, ben = f"ann{n}@org{n % 7}.io", f"ben{n}@org{n % 7}.io"
    contacts: list[dict[str, Any]] = [
        {"email": ann, "role": "Decision Maker", "primary": True},
        {"email": ben, "role": "Economic Buyer"},
    ]
    if version < VERSIONS - 1:
        contacts.append({"email": ann, "role": "Champion"})
    return contacts


def _event(n: int, version: int) -> dict[str, Any]:
    record = {
        "id": f"OPP-{n}",
        "name": f"Deal {n}",
        "amount": 1000 * (version + 1) + n,
        "closeDate": "2026-12-31",
        "stage": "Qualification" if version < VERSIONS - 1 else "Negotiation",
        "owner": "alice",
        "contacts": _contacts(n, version),
    }
    return {
        "type": "track",
        "event": "Opportunity Updated",
        "messageId": str(uuid.uuid4()),
        "userId": f"opp-{n}",  # one key per opportunity: its versions stay in order
        "properties": {"opportunity": record},
        "context": {"leadgate": {"source": "workbooks"}},
    }


async def _produce(pipeline: Pipeline, events: list[dict[str, Any]], chunks: int) -> None:
    kafka = pipeline.settings.kafka
    size = -(-len(events) // chunks)
    for start in range(0, len(events), size):
        await produce_events(
            kafka.bootstrap_servers, kafka.events_topic, events[start : start + size]
        )
        await asyncio.sleep(0.4)


async def _lag(pipeline: Pipeline) -> int:
    kafka = pipeline.settings.kafka
    return await lag(
        kafka.bootstrap_servers, kafka.processor_group, kafka.events_topic
    ) + await lag(kafka.bootstrap_servers, kafka.delivery_group, kafka.delivery_topic)


@pytest.mark.slow
async def test_kill_minus_nine_never_doubles_an_opportunity_or_a_role(
    make_pipeline: MakePipeline, tmp_path: Path
) -> None:
    """60 opportunities, 4 versions each, 3 SIGKILLs mid-work: one opportunity per source id,
    one prospect per email, one role per (opportunity, prospect, role), final state exact."""
    pipeline = await make_pipeline(
        start=False, presets=(CRM,), sandbox={"lenient": True, "rate_limit": 1_000_000}
    )
    sandbox = pipeline.sandbox
    count = 60
    events = [_event(n, version) for version in range(VERSIONS) for n in range(count)]
    rng = random.Random(14)
    log = tmp_path / "worker.log"
    producing = asyncio.create_task(_produce(pipeline, events, chunks=16))
    worker = await spawn_worker(pipeline.settings, log=log)
    kills = 0
    try:
        for _ in range(3):
            before = len(await sandbox.records("opportunityProspectRoles"))

            async def progressed(before: int = before) -> bool:
                roles = len(await sandbox.records("opportunityProspectRoles"))
                return roles > before or producing.done()

            await wait_for(progressed, timeout_s=60, interval_s=0.1)
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            worker.kill()  # SIGKILL: no drain, no commit
            await worker.wait()
            kills += 1
            worker = await spawn_worker(pipeline.settings, log=log)
        await producing

        async def drained() -> bool:
            return await _lag(pipeline) == 0

        await wait_for(drained, timeout_s=180, interval_s=0.5)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        producing.cancel()

    opportunities = await sandbox.records("opportunities")
    custom_ids = Counter(o["attributes"]["customId"] for o in opportunities)
    assert len(custom_ids) == count
    assert max(custom_ids.values()) == 1, "a second opportunity for one source record"
    prospects = Counter(p["attributes"]["emails"][0] for p in await sandbox.prospects())
    assert max(prospects.values()) == 1, "a second prospect for one contact"
    emails = {p["id"]: p["attributes"]["emails"][0] for p in await sandbox.prospects()}
    roles = Counter(
        (
            r["relationships"]["opportunity"]["data"]["id"],
            emails[r["relationships"]["prospect"]["data"]["id"]],
            r["attributes"]["role"],
        )
        for r in await sandbox.records("opportunityProspectRoles")
    )
    duplicates = sum(n - 1 for n in roles.values())
    print(f"\nCRM kill -9 run: kills={kills} opportunities={len(opportunities)} "
          f"roles={sum(roles.values())} duplicates={duplicates}")  # fmt: skip
    assert duplicates == 0
    last = VERSIONS - 1
    for opportunity in opportunities:
        n = int(opportunity["attributes"]["customId"].rpartition("-")[2])
        assert opportunity["attributes"]["amount"] == 1000 * (last + 1) + n
        wanted = {(c["email"], c["role"]) for c in _contacts(n, last)}
        have = {(email, role) for (opp, email, role) in roles if opp == opportunity["id"]}
        assert have == wanted, opportunity["attributes"]["customId"]
