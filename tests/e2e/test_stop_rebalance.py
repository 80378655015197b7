"""A worker process stopped while its consumer group rebalances: it exits 0 within its bound
(the drain, then one session timeout to commit and leave), its finished work committed, even
while members keep joining and leaving."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from leadgate.settings import KafkaSettings
from leadgate.workers.stopping import stop_bound_s
from tests.e2e.conftest import MakePipeline
from tests.plugins.leads import lead_stream, produce_slowly
from tests.plugins.streams import lag, read_topic, spawn_worker, wait_for

# Margin over a consume loop's bound for the process itself (producer flush, store, interpreter)
STARTUP_AND_EXIT_S = 10.0
REBALANCING = "because it is rebalancing"  # aiokafka's heartbeat warning, in the worker's log


@contextlib.asynccontextmanager
async def _flapping_member(kafka: KafkaSettings) -> AsyncIterator[list[int]]:
    """A member of the processor group that joins and leaves again and again (as a worker
    restarted after each crash does), so that the group keeps rebalancing; yields how many
    times it joined. It never fetches: it only moves the group."""
    joins: list[int] = []
    done = asyncio.Event()

    async def flap() -> None:
        while not done.is_set():
            member = AIOKafkaConsumer(
                kafka.events_topic,
                bootstrap_servers=kafka.bootstrap_servers,
                group_id=kafka.processor_group,
                enable_auto_commit=False,
                session_timeout_ms=kafka.session_timeout_ms,
                heartbeat_interval_ms=1000,
            )
            await member.start()
            try:
                joins.append(1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 1.0)
            finally:
                await member.stop()  # it leaves: a member left behind would hold partitions
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.5)

    task = asyncio.create_task(flap())
    try:
        yield joins
    finally:
        done.set()
        await task


@pytest.mark.slow
async def test_sigterm_during_a_rebalance_exits_zero_in_bound_with_offsets_committed(
    make_pipeline: MakePipeline, tmp_path: Path
) -> None:
    """Two processor processes share a group; a third member keeps joining and leaving, and
    the SIGTERM reaches one processor right as its heartbeat learns the group is rebalancing:
    it exits 0 within the drain plus one session timeout, and once the other has finished,
    every event was processed exactly once (what the stopped one finished, it committed)."""
    pipeline = await make_pipeline(
        start=False, sandbox={"lenient": True}, kafka={"session_timeout_ms": 6000}
    )
    settings, kafka = pipeline.settings, pipeline.settings.kafka
    events, _ = lead_stream(300, seed=7, prefix="stop", tracks=3)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = await spawn_worker(settings, role="processor", log=log_a, log_level="info")
    b = await spawn_worker(settings, role="processor", log=log_b, log_level="info")
    producing = asyncio.create_task(produce_slowly(settings, events, chunks=30, pause_s=0.5))
    try:

        async def both_consume() -> bool:
            return all("consumer.assigned" in log.read_text() for log in (log_a, log_b))

        await wait_for(both_consume, timeout_s=60)
        async with _flapping_member(kafka) as joins:
            seen = log_a.read_text().count(REBALANCING)

            async def rebalancing() -> bool:
                return log_a.read_text().count(REBALANCING) > seen

            await wait_for(rebalancing, timeout_s=60, interval_s=0.02)
            asked = time.monotonic()
            a.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(a.wait(), stop_bound_s(kafka) + STARTUP_AND_EXIT_S)
            stopped_s = time.monotonic() - asked
        assert status == 0
        await producing

        async def all_committed() -> bool:
            return (
                await lag(kafka.bootstrap_servers, kafka.processor_group, kafka.events_topic) == 0
            )

        await wait_for(all_committed, timeout_s=120, interval_s=0.5)
        traces = [
            orjson.loads(r.value)
            for r in await read_topic(kafka.bootstrap_servers, kafka.traces_topic)
        ]
        processed = Counter(t["messageId"] for t in traces if t["stage"] == "processor")
        print(
            f"\nstopped during a rebalance: exit {status} in {stopped_s:.1f}s "
            f"(bound {stop_bound_s(kafka):.0f}s + {STARTUP_AND_EXIT_S:.0f}s), "
            f"flapping member joined {len(joins)} times"
        )
        assert len(processed) == len(events), "every event processed"
        assert set(processed.values()) == {1}, "no event processed twice"
        assert "Traceback" not in log_a.read_text()
    finally:
        producing.cancel()
        for worker in (a, b):
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
