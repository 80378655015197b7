"""P2 scaled out: the processor as ``leadgate run --role processor [--processes N]``
subprocesses, on SQLite and on Redis.

- ``p2_processes_speedup``: events/s of 2 processor processes ÷ 1, both on Redis (the store that
  lets them share profiles across hosts);
- ``p2_redis_vs_sqlite``: events/s of 1 processor process on Redis ÷ on SQLite.

The question is the *throughput* of the processes, so each run measures them draining a backlog:

1. fresh topics, a fresh consumer group and a fresh Redis namespace (or state dir);
2. the whole backlog (``count`` records of the website mix) is produced *before* the processes
   start, so the producer neither paces the processes nor takes CPU from them;
3. the processes start; they join the group together (the embedded broker answers a JoinGroup
   only after half the session timeout, so the children of ``--processes 2`` land in one
   generation) and drain the backlog;
4. the bench waits for the group to commit every record (one offset request per partition every
   ``POLL_S``), then reads the traces topic: the processor writes one trace per event, stamped
   with the time it was processed (``at``). The rate is the number of traces between the 10th
   and the 90th percentile of those stamps ÷ the seconds between them: the steady drain, without
   process start-up, the group join, the first fetch, the commit cadence or the tail of the last
   partition (a record without a trace, the 1% malformed, is scaled in: traces/s times events ÷
   traces).

A run in which the group rebalanced (more assignments than processes, or any revoke) is done
again, once.

CPU accounting (:mod:`bench.cpu_accounting`), over the same window: each party's CPU time and
run-queue wait (the processor processes, the broker, redis-server, the bench itself).

- ``p2x_runnable``: the share of the window a processor process was on a core or waiting for
  one (threads summed: SQLite's worker thread counts too). Near 1: CPU-bound, nothing to wait
  for but a core; well below 1: it waited on I/O (the store, the broker, a lock).
- ``p2x_cpu_us_per_event``: CPU µs per event of each party; far steadier than the rates on a
  loaded machine (sharing the cores' caches still moves it by some 20%).
- ``p2x_cores_used``: cores all parties used together. With 2 processes it should be close to
  the machine's 2 cores; far below with ``p2x_runnable`` near 1, the machine was busy with
  other work and the rates say little (Linux's autogroup scheduler gives each *session* a fair
  share, so a second process in the bench's session does not get the bench a larger share).
- ``p2x_speedup_ceiling``: what full use of the cores allows. The broker and Redis run on the
  same 2 cores as the processors, so two processes cannot be twice as fast as one: ceiling =
  2 cores times processor µs ÷ (processor + broker + Redis µs per event), the costs of
  the 2-process runs (one process alone would have a core to itself at the same cost), at
  most 2.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from bench.cpu_accounting import Sampler, named_child, tree
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
from leadgate.kafka.broker import EmbeddedBroker
from leadgate.settings import Settings

TIMEOUT_S = 240.0
POLL_S = 1.0  # committed offsets: one request per partition this often
SAMPLE_S = 0.5  # /proc CPU samples (no broker request), interpolated at the window's ends
LOW, HIGH = 0.1, 0.9  # the steady window: between these quantiles of the processed times


@dataclass(frozen=True)
class Run:
    """One run's steady rate and where its CPU went in that window."""

    eps: float
    us_per_event: dict[str, float]  # CPU µs per event: processors, broker, redis, bench
    runnable: float  # share of the window a processor process was running or waiting for a core
    cores: float  # cores the processors, the broker, Redis and the bench used together
    rebalanced: bool


async def _trace_times(bootstrap: str, topic: str, partitions: int) -> list[float]:
    """The ``at`` stamp of every trace record on ``topic`` (read to its end), sorted."""
    consumer = raw_consumer(bootstrap, None)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        times: list[float] = []
        deadline = time.monotonic() + TIMEOUT_S
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            if time.monotonic() > deadline:
                raise RuntimeError("the traces topic could not be read to its end")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                times.extend(float(orjson.loads(r.value)["at"]) for r in batch)
        return sorted(times)
    finally:
        await consumer.stop()


async def _drained(settings: Settings, total: int, process: Any, sampler: Sampler) -> None:
    """Sample CPU until the group has committed ``total`` records."""
    kafka = settings.kafka
    partitions = [TopicPartition(kafka.events_topic, p) for p in range(kafka.partitions)]
    watcher = raw_consumer(kafka.bootstrap_servers, kafka.processor_group)
    await watcher.start()
    try:
        deadline = time.monotonic() + TIMEOUT_S
        next_poll = 0.0
        while True:
            sampler.groups["processors"] = tree(process.pid)
            sampler.sample()
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_S
                done = sum([(await watcher.committed(tp)) or 0 for tp in partitions])
                if done >= total:
                    sampler.sample()  # the window ends before this: interpolation has both ends
                    return
                if time.monotonic() > deadline or process.returncode is not None:
                    raise RuntimeError(f"only {done} of {total} committed")
            await asyncio.sleep(SAMPLE_S)
    finally:
        await watcher.stop()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _one_run(
    broker: EmbeddedBroker,
    tmp: Path,
    *,
    processes: int,
    redis_url: str | None,
    events: list[bytes],
) -> Run:
    settings = bench_settings(broker.bootstrap, tmp / f"state-{uuid.uuid4().hex[:6]}")
    kafka = settings.kafka
    await create_topics(settings)
    await produce(broker.bootstrap, kafka.events_topic, ((_key(r), r) for r in events))
    env = worker_env(settings)
    env["LEADGATE_LOG_LEVEL"] = "info"  # production's level; the log shows the assignments
    if redis_url is not None:
        env["LEADGATE_STATE__URL"] = redis_url
        env["LEADGATE_STATE__NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}:"
    log = tmp / f"processor-{uuid.uuid4().hex[:6]}.log"
    extra = ["--processes", str(processes)] if processes > 1 else []
    redis_pid = named_child("redis-server")
    assert broker.process is not None
    sampler = Sampler(
        groups={
            "processors": [],
            "broker": [broker.process.pid],
            "redis": [redis_pid] if redis_pid is not None else [],
            "bench": [os.getpid()],
        }
    )
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "leadgate.cli", "run", "--role", "processor", *extra,
            env=env, cwd=str(REPO), stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        try:
            await _drained(settings, len(events), process, sampler)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc} (see {log})") from None
    finally:
        await _stop(process)
    times = await _trace_times(broker.bootstrap, kafka.traces_topic, kafka.partitions)
    low, high = int(len(times) * LOW), int(len(times) * HIGH) - 1
    start, end = times[low], times[high]
    per_trace = len(events) / len(times)  # the malformed 1% write no trace
    in_window = (high - low) * per_trace
    cpu = sampler.window(start, end)
    text = log.read_text(errors="replace")
    running, waiting = cpu["processors"]
    return Run(
        eps=in_window / (end - start),
        us_per_event={name: round(c[0] / in_window * 1e6, 1) for name, c in cpu.items()},
        runnable=round((running + waiting) / ((end - start) * processes), 2),
        cores=round(sum(c[0] for c in cpu.values()) / (end - start), 2),
        rebalanced=text.count('"consumer.assigned"') > processes or '"consumer.revoked"' in text,
    )


def _median_of(runs: list[Run], key: str) -> float:
    return round(statistics.median(r.us_per_event[key] for r in runs), 1)


async def run(count: int = 40_000, reps: int = 5) -> dict[str, Any]:
    """Measure the scale-out P2 keys and return their figures."""
    events = records(count)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[Run]] = {"sqlite-1": [], "redis-1": [], "redis-2": []}
    rebalanced = 0
    with redis_server() as url:
        async with embedded_broker() as broker:
            with tempfile.TemporaryDirectory(prefix="leadgate-bench-p2x-") as tmp:
                for _ in range(reps):
                    for name, done in runs.items():
                        backend, n = name.split("-")
                        for attempt in range(2):
                            result = await _one_run(
                                broker,
                                Path(tmp),
                                processes=int(n),
                                redis_url=url if backend == "redis" else None,
                                events=events,
                            )
                            rebalanced += result.rebalanced
                            if not result.rebalanced or attempt == 1:
                                done.append(result)
                                break
    eps = {name: statistics.median(r.eps for r in rs) for name, rs in runs.items()}
    reps = {name: [round(r.eps) for r in rs] for name, rs in runs.items()}
    cost = {
        name: {k: _median_of(rs, k) for k in ("processors", "broker", "redis", "bench")}
        for name, rs in runs.items()
    }
    cores = os.cpu_count() or 1
    two = cost["redis-2"]
    spent = two["processors"] + two["broker"] + two["redis"]
    ceiling = min(2.0, cores * two["processors"] / spent)
    return {
        "p2_processes_speedup": round(eps["redis-2"] / eps["redis-1"], 3),
        "p2_redis_vs_sqlite": round(eps["redis-1"] / eps["sqlite-1"], 3),
        "p2x_events": count,
        "p2x_cpu_cores": cores,
        "p2x_loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "p2x_eps_median": {k: round(v) for k, v in eps.items()},
        "p2x_eps_reps": orjson.dumps(reps).decode(),
        "p2x_cpu_us_per_event": cost,
        "p2x_runnable": {k: statistics.median(r.runnable for r in v) for k, v in runs.items()},
        "p2x_cores_used": {k: statistics.median(r.cores for r in v) for k, v in runs.items()},
        # per rep, beside p2x_eps_reps: a rep that got far fewer cores than the others was
        # disturbed by other work on the machine
        "p2x_cores_reps": orjson.dumps({k: [r.cores for r in v] for k, v in runs.items()}).decode(),
        "p2x_speedup_ceiling": round(ceiling, 3),
        "p2x_rebalanced_runs": rebalanced,
    }
