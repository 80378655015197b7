"""Many processes, one Redis, one Outreach budget, and kill -9: two processor and three delivery
processes (``leadgate run --processes``) on the embedded broker and a real redis-server, against
a sandbox that allows 600 requests a minute and one token mint a minute, while worker processes
are SIGKILLed at random and restarted by their supervisors."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr

from leadgate.runtime.processes import stop_grace_s
from leadgate.settings import StateSettings
from tests.e2e.conftest import MakePipeline
from tests.plugins.leads import lead_stream, produce_slowly
from tests.plugins.redis import RedisServer
from tests.plugins.streams import lag, prospect_emails, spawn_worker, wait_for

USERS = 150
KILLS = 6
PER_MINUTE = 600


def _children(*supervisors: asyncio.subprocess.Process) -> list[psutil.Process]:
    return [c for s in supervisors for c in psutil.Process(s.pid).children()]


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await process.wait()


@pytest.mark.slow
async def test_five_processes_under_kill_minus_nine_share_one_budget_and_one_token(
    make_pipeline: MakePipeline, redis_server: RedisServer, redis_namespace: str, tmp_path: Path
) -> None:
    """While 900 events flow, worker processes are SIGKILLed six times at random: every
    qualifying lead ends as exactly one prospect with the right tags (the lenient sandbox would
    accept a duplicate), the 600-per-minute budget shared by three delivery processes provokes no
    429, the token was minted once, and on SIGTERM every process exits 0."""
    pipeline = await make_pipeline(
        start=False,
        sandbox={
            "lenient": True,
            "rate_limit": PER_MINUTE,
            "window_s": 60.0,
            "mint_interval_s": 60.0,
        },
        kafka={"session_timeout_ms": 6000},
        link_accounts=False,
        budget_per_hour=PER_MINUTE * 60,
    )
    state = StateSettings(url=SecretStr(redis_server.url), namespace=redis_namespace)
    settings = pipeline.settings.model_copy(update={"state": state})
    sandbox, kafka = pipeline.sandbox, settings.kafka
    events, expected = lead_stream(USERS, seed=16, prefix="chaos", tracks=3, pages=2)
    rng = random.Random(16)
    started = time.monotonic()
    processors = await spawn_worker(
        settings, role="processor", processes=2, log=tmp_path / "processor.log", log_level="info"
    )
    delivery = await spawn_worker(
        settings, role="delivery", processes=3, log=tmp_path / "delivery.log", log_level="info"
    )
    producing = asyncio.create_task(produce_slowly(settings, events, chunks=15, pause_s=1.0))
    kills = 0
    try:

        async def five_workers() -> bool:
            return len(_children(processors, delivery)) == 5

        await wait_for(five_workers, timeout_s=30)
        for _ in range(KILLS):
            before = len(await sandbox.prospects())

            async def progressed(before: int = before) -> bool:
                return len(await sandbox.prospects()) > before

            await wait_for(progressed, timeout_s=90, interval_s=0.2)
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            victim = rng.choice(_children(processors, delivery))
            victim.kill()  # SIGKILL: no drain, no commit, no lease or budget given back
            victim.wait(timeout=10)
            kills += 1
        await producing

        async def complete() -> bool:
            return len(set(prospect_emails(await sandbox.prospects()))) >= len(expected)

        await wait_for(complete, timeout_s=150, interval_s=0.5)

        async def committed() -> bool:
            lags = [
                await lag(kafka.bootstrap_servers, kafka.processor_group, kafka.events_topic),
                await lag(kafka.bootstrap_servers, kafka.delivery_group, kafka.delivery_topic),
            ]
            return sum(lags) == 0

        await wait_for(committed, timeout_s=90, interval_s=0.5)
        drained_s = time.monotonic() - started
        stored = await sandbox.prospects()
        counts = Counter(prospect_emails(stored))
        requests = await sandbox.requests()
        throttled = [r for r in requests if r["status"] == 429]
        mints = [r for r in requests if r["path"] == "/oauth/token"]
        duplicates = sum(n - 1 for n in counts.values())
        print(
            f"\nchaos run: events={len(events)} kills={kills} prospects={len(counts)} "
            f"expected={len(expected)} duplicates={duplicates} 429s={len(throttled)} "
            f"token_mints={len(mints)} api_requests={len(requests) - len(mints)} "
            f"seconds_to_drain={drained_s:.1f}"
        )
        assert set(counts) == set(expected), "every qualifying lead delivered, nothing else"
        assert duplicates == 0
        for prospect in stored:
            email = prospect["attributes"]["emails"][0]
            assert set(prospect["attributes"]["tags"]) == expected[email], email
        assert throttled == []
        assert len(mints) == 1
        assert kills == KILLS
        # Every worker stops cleanly, whatever its group is doing: a supervisor exits 0 only
        # when each of its children drained and exited 0 within its grace (it kills the others).
        asked = time.monotonic()
        statuses = await asyncio.gather(_stop(processors), _stop(delivery))
        print(
            f"supervisor exit statuses after SIGTERM: {statuses} "
            f"in {time.monotonic() - asked:.1f}s (grace {stop_grace_s(kafka):.0f}s)"
        )
        assert list(statuses) == [0, 0]
    finally:
        producing.cancel()
        for supervisor in (processors, delivery):
            if supervisor.returncode is None:
                for child in psutil.Process(supervisor.pid).children():
                    child.kill()
                supervisor.kill()
                await supervisor.wait()
