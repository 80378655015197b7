"""``leadgate run`` processes on the Redis state store share what they know, even with state
dirs of their own: a profile one processor wrote is used by the next, a prospect one delivery
worker created is updated by another (without looking it up again), and ``--processes N`` runs N
processes of a role that share the work."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import psutil
from pydantic import SecretStr

from leadgate.settings import Settings, StateSettings
from tests.e2e.conftest import MakePipeline
from tests.plugins.redis import RedisServer
from tests.plugins.streams import (
    identify,
    lag,
    produce_events,
    read_topic,
    spawn_worker,
    track,
    wait_for,
)


def _on_redis(settings: Settings, server: RedisServer, namespace: str, dir_: Path) -> Settings:
    """``settings`` on the shared Redis, with a state dir of its own (so nothing is shared
    through a file)."""
    state = StateSettings(url=SecretStr(server.url), namespace=namespace)
    return settings.model_copy(update={"state": state, "state_dir": dir_})


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=45)


async def _committed(settings: Settings, group: str, topic: str) -> None:
    async def done() -> bool:
        return await lag(settings.kafka.bootstrap_servers, group, topic) == 0

    await wait_for(done, timeout_s=60, interval_s=0.2)


async def test_a_profile_written_by_one_processor_is_used_by_another(
    make_pipeline: MakePipeline, redis_server: RedisServer, redis_namespace: str, tmp_path: Path
) -> None:
    """Processor A stores the email of an identify; after A stops, processor B (another state
    dir) joins a later track to that email: the track becomes a lead intent."""
    pipeline = await make_pipeline(start=False)
    first = _on_redis(pipeline.settings, redis_server, redis_namespace, tmp_path / "a")
    second = _on_redis(pipeline.settings, redis_server, redis_namespace, tmp_path / "b")
    kafka = first.kafka
    worker = await spawn_worker(first, role="processor", log=tmp_path / "a.log")
    try:
        await produce_events(
            kafka.bootstrap_servers, kafka.events_topic, [identify("u1", "ada@gmail.com")]
        )
        await _committed(first, kafka.processor_group, kafka.events_topic)
        assert await _stop(worker) == 0
        worker = await spawn_worker(second, role="processor", log=tmp_path / "b.log")
        lead = track("u1", "Lead Submitted")
        await produce_events(kafka.bootstrap_servers, kafka.events_topic, [lead])

        async def intent() -> bool:
            records = await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)
            return any(lead["messageId"].encode() in r.value for r in records)

        await wait_for(intent, timeout_s=60)
        records = await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)
        joined = [r for r in records if lead["messageId"].encode() in r.value]
        assert [r.key for r in joined] == [b"ada@gmail.com"]
        assert await _stop(worker) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def test_a_prospect_created_by_one_worker_is_updated_by_another(
    make_pipeline: MakePipeline, redis_server: RedisServer, redis_namespace: str, tmp_path: Path
) -> None:
    """Worker A creates the prospect; worker B (another state dir) delivers a later lead of the
    same email as an update of that prospect by the id A stored: no lookup by email, no create,
    one prospect."""
    pipeline = await make_pipeline(start=False, link_accounts=False)
    first = _on_redis(pipeline.settings, redis_server, redis_namespace, tmp_path / "a")
    second = _on_redis(pipeline.settings, redis_server, redis_namespace, tmp_path / "b")
    kafka, sandbox = first.kafka, pipeline.sandbox
    worker = await spawn_worker(first, log=tmp_path / "a.log")
    try:
        events = [identify("u2", "grace@gmail.com"), track("u2", "Lead Submitted")]
        await produce_events(kafka.bootstrap_servers, kafka.events_topic, events)

        async def created() -> bool:
            return len(await sandbox.prospects()) == 1

        await wait_for(created, timeout_s=60)
        await _committed(first, kafka.delivery_group, kafka.delivery_topic)
        assert await _stop(worker) == 0
        before = len(await sandbox.api_requests())
        worker = await spawn_worker(second, log=tmp_path / "b.log")
        await produce_events(
            kafka.bootstrap_servers, kafka.events_topic, [track("u2", "Signed Up")]
        )

        async def updated() -> bool:
            prospects = await sandbox.prospects()
            return "signup" in prospects[0]["attributes"]["tags"]

        await wait_for(updated, timeout_s=60)
        prospects = await sandbox.prospects()
        assert len(prospects) == 1
        assert set(prospects[0]["attributes"]["tags"]) == {"Signal", "lead", "signup"}
        by_b = (await sandbox.api_requests())[before:]
        own = f"/api/v2/prospects/{prospects[0]['id']}"
        assert ("PATCH", own) in [(r["method"], r["path"]) for r in by_b]
        assert [r for r in by_b if r["method"] == "POST"] == [], "no second create"
        assert [r for r in by_b if "filter" in str(r.get("query"))] == [], "no lookup by email"
        assert await _stop(worker) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def test_processes_n_runs_n_processors_in_one_group(
    make_pipeline: MakePipeline, redis_server: RedisServer, redis_namespace: str, tmp_path: Path
) -> None:
    """``--processes 2`` starts two processor processes in the group, restarts one killed with
    SIGKILL, processes every event, and drains both and exits 0 on SIGTERM."""
    pipeline = await make_pipeline(start=False)
    settings = _on_redis(pipeline.settings, redis_server, redis_namespace, tmp_path / "s")
    kafka = settings.kafka
    supervisor = await spawn_worker(settings, role="processor", processes=2, log=tmp_path / "s.log")
    try:
        parent = psutil.Process(supervisor.pid)

        async def two_children() -> bool:
            return len(parent.children()) == 2

        await wait_for(two_children, timeout_s=30)
        victim = parent.children()[0]
        victim.kill()
        victim.wait(timeout=10)

        async def replaced() -> bool:
            children = parent.children()
            return len(children) == 2 and victim.pid not in {c.pid for c in children}

        await wait_for(replaced, timeout_s=30)
        events = [identify(f"p{i}", f"p{i}@gmail.com") for i in range(60)]
        await produce_events(kafka.bootstrap_servers, kafka.events_topic, events)
        await _committed(settings, kafka.processor_group, kafka.events_topic)
        assert await _stop(supervisor) == 0
    finally:
        if supervisor.returncode is None:
            for child in psutil.Process(supervisor.pid).children():
                child.kill()
            supervisor.kill()
            await supervisor.wait()
