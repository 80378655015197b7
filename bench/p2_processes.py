"""P2 scaled out: the processor as ``leadgate run --role processor [--processes N]``
subprocesses, on SQLite and on Redis.

Each run gets fresh topics and a fresh consumer group (and a fresh Redis namespace or state dir).
The processes are started first and left until their group has settled (every process assigned,
no rebalance for a few seconds); then ``count`` records of the website mix are produced and the
clock runs from the first produce to the moment the group has committed every record.

- ``p2_processes_speedup``: events/s of 2 processor processes ÷ 1, both on Redis (the store that
  lets them share profiles across hosts);
- ``p2_redis_vs_sqlite``: events/s of 1 processor process on Redis ÷ on SQLite.

Runs are interleaved (sqlite-1, redis-1, redis-2, sqlite-1, ...) and the median of each is taken.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from bench.p2_consume import _key
from bench.redis_rig import redis_server
from bench.rig import (
    REPO,
    bench_settings,
    create_topics,
    embedded_broker,
    produce,
    raw_consumer,
    worker_env,
)
from bench.workload import records
from leadgate.settings import Settings

SETTLE_S = 4.0
TIMEOUT_S = 240.0


async def _settled(log: Path, processes: int) -> None:
    """Wait until every one of ``processes`` consumers has started and been assigned, and no
    rebalance followed for ``SETTLE_S``."""
    deadline = time.monotonic() + 180
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""  # noqa: ASYNC240
        started = text.count('"consumer.started"')
        count = text.count('"consumer.assigned"')
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif (
            started >= processes
            and count >= processes
            and time.monotonic() - last_change >= SETTLE_S
        ):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the processor group did not settle (see {log})")


async def _one_run(
    bootstrap: str, tmp: Path, *, processes: int, redis_url: str | None, events: list[bytes]
) -> float:
    settings: Settings = bench_settings(bootstrap, tmp / f"state-{uuid.uuid4().hex[:6]}")
    await create_topics(settings)
    env = worker_env(settings)
    env["LEADGATE_LOG_LEVEL"] = "info"
    if redis_url is not None:
        env["LEADGATE_STATE__URL"] = redis_url
        env["LEADGATE_STATE__NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}:"
    log = tmp / f"processor-{uuid.uuid4().hex[:6]}.log"
    extra = ["--processes", str(processes)] if processes > 1 else []
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "leadgate.cli", "run", "--role", "processor", *extra,
            env=env, cwd=str(REPO), stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        await _settled(log, processes)
        kafka = settings.kafka
        # One consumer asks for the group's committed offsets all run long (a new client per
        # poll would cost the measured processes CPU).
        watcher = raw_consumer(bootstrap, kafka.processor_group)
        await watcher.start()
        try:
            partitions = [TopicPartition(kafka.events_topic, p) for p in range(kafka.partitions)]
            started = time.perf_counter()
            await produce(bootstrap, kafka.events_topic, ((_key(r), r) for r in events))
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                done = sum([(await watcher.committed(tp)) or 0 for tp in partitions])
                if done >= len(events):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {done} of {len(events)} committed (see {log})")
                await asyncio.sleep(0.1)
            return len(events) / (time.perf_counter() - started)
        finally:
            await watcher.stop()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def run(count: int = 30_000, reps: int = 3) -> dict[str, Any]:
    """Measure the scale-out P2 keys and return their figures."""
    events = records(count)
    eps: dict[str, list[float]] = {"sqlite-1": [], "redis-1": [], "redis-2": []}
    with redis_server() as url:
        async with embedded_broker() as broker:
            with tempfile.TemporaryDirectory(prefix="leadgate-bench-p2x-") as tmp:
                for _ in range(reps):
                    for name in eps:
                        backend, n = name.split("-")
                        eps[name].append(
                            await _one_run(
                                broker.bootstrap,
                                Path(tmp),
                                processes=int(n),
                                redis_url=url if backend == "redis" else None,
                                events=events,
                            )
                        )
    median = {name: statistics.median(values) for name, values in eps.items()}
    return {
        "p2_processes_speedup": round(median["redis-2"] / median["redis-1"], 3),
        "p2_redis_vs_sqlite": round(median["redis-1"] / median["sqlite-1"], 3),
        "p2x_events": count,
        "p2x_cpu_cores": os.cpu_count(),
        "p2x_eps_median": {k: round(v) for k, v in median.items()},
        "p2x_eps_reps": orjson.dumps({k: [round(x) for x in v] for k, v in eps.items()}).decode(),
    }
