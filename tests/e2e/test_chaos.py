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
from typing import Any

import psutil
import pytest
from pydantic import SecretStr

from leadgate.settings import Settings, StateSettings
from tests.e2e.conftest import MakePipeline
from tests.plugins.redis import RedisServer
from tests.plugins.streams import (
    identify,
    lag,
    produce_events,
    prospect_emails,
    spawn_worker,
    track,
    wait_for,
)

TAGS = {"Lead Submitted": "lead", "Form Submitted": "form", "Signed Up": "signup"}
NAMES = (*TAGS, "Pricing Viewed")
USERS = 150
KILLS = 6
PER_MINUTE = 600


def _stream(users: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Per user an identify, two page views and three tracks (some unmapped); the prospects they
    must make (email -> tags)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    expected: dict[str, set[str]] = {}
    for n in range(users):
        user, email = f"chaos-{n}", f"chaos{n}@gmail.com"
        events.append(identify(user, email))
        for _ in range(2):
            page = {**track(user, "Pricing Viewed"), "type": "page", "name": "Pricing"}
            page.pop("event")
            events.append(page)
        for _ in range(3):
            name = rng.choice(NAMES)
            events.append(track(user, name))
            if name in TAGS:
                expected.setdefault(email, {"Signal"}).add(TAGS[name])
    return events, expected


async def _produce_slowly(settings: Settings, events: list[dict[str, Any]], chunks: int) -> None:
    """Produce in ``chunks`` pieces, 1 s apart, so that leads keep flowing during the kills."""
    size = -(-len(events) // chunks)
    kafka = settings.kafka
    for start in range(0, len(events), size):
        await produce_events(
            kafka.bootstrap_servers, kafka.events_topic, events[start : start + size]
        )
        await asyncio.sleep(1.0)


def _children(*supervisors: asyncio.subprocess.Process) -> list[psutil.Process]:
    return [c for s in supervisors for c in psutil.Process(s.pid).children()]


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=90)


@pytest.mark.slow
async def test_five_processes_under_kill_minus_nine_share_one_budget_and_one_token(
    make_pipeline: MakePipeline, redis_server: RedisServer, redis_namespace: str, tmp_path: Path
) -> None:
    """While 900 events flow, worker processes are SIGKILLed six times at random: every
    qualifying lead ends as exactly one prospect with the right tags (the lenient sandbox would
    accept a duplicate), the 600-per-minute budget shared by three delivery processes provokes no
    429, and the token was minted once."""
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
    events, expected = _stream(USERS, seed=16)
    rng = random.Random(16)
    started = time.monotonic()
    processors = await spawn_worker(
        settings, role="processor", processes=2, log=tmp_path / "processor.log", log_level="info"
    )
    delivery = await spawn_worker(
        settings, role="delivery", processes=3, log=tmp_path / "delivery.log", log_level="info"
    )
    producing = asyncio.create_task(_produce_slowly(settings, events, chunks=15))
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
        # Not asserted: a process stopped while its group rebalances can hang in the consumer's
        # shutdown until the supervisor's grace period kills it (seen twice in five runs with
        # the embedded broker); the statuses are printed for the record.
        statuses = [await _stop(processors), await _stop(delivery)]
        print(f"supervisor exit statuses after SIGTERM: {statuses}")
    finally:
        producing.cancel()
        for supervisor in (processors, delivery):
            if supervisor.returncode is None:
                for child in psutil.Process(supervisor.pid).children():
                    child.kill()
                supervisor.kill()
                await supervisor.wait()
