"""P6: peak RSS of the delivery worker while a large backlog drains behind a throttled sandbox.

``backlog`` lead intents of distinct new leads wait in the delivery topic. ``leadgate run
--role delivery`` runs as a subprocess configured through ``LEADGATE_*`` variables (production
settings, SQLite store in a temp dir, logging at info to a file); the sandbox runs in its own
process with 600 requests per 60 s and 50 ms latency, and the worker's budget is the same 600 per
minute, so the backlog drains far slower than it can be fetched. psutil samples the worker's
RSS every 0.2 s, from its start until ``seconds`` after its first API request (the group join is
not part of the run). ``p6_flat`` compares the peak of the second half of those ``seconds`` with
the first half's (flat: at most 10% or 10 MB more); the peak covers the whole life.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench.rig import (
    REPO,
    Sandbox,
    bench_settings,
    create_topics,
    embedded_broker,
    lead_intents,
    produce,
    request_epoch,
    sandbox_process,
    worker_env,
)

SAMPLE_S = 0.2
MB = 1024 * 1024


async def _sample(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Append (epoch seconds, RSS in MB) every ``SAMPLE_S`` until ``stop``."""
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            samples.append((time.time(), process.memory_info().rss / MB))
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(SAMPLE_S)


async def _first_request(sandbox: Sandbox, worker: asyncio.subprocess.Process) -> float:
    """When the worker's first API request reached the sandbox (it has joined and started)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.returncode is None:
        log = await sandbox.api_requests()
        if log:
            return request_epoch(log[0])
        await asyncio.sleep(0.2)
    raise RuntimeError("the delivery worker sent nothing to the sandbox")


async def run(backlog: int = 200_000, seconds: float = 60.0) -> dict[str, Any]:
    """Measure P6 and return its figures."""
    async with (
        embedded_broker() as broker,
        sandbox_process(rate_limit=600, window_s=60.0, latency_ms=50) as sandbox,
    ):
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-p6-") as tmp:
            settings = bench_settings(
                broker.bootstrap,
                Path(tmp) / "state",
                sandbox_url=sandbox.url,
                budget_per_hour=36_000,
            ).model_copy(update={"log_level": "info"})
            await create_topics(settings)
            produced_at = time.monotonic()
            await produce(broker.bootstrap, settings.kafka.delivery_topic, lead_intents(backlog))
            produce_s = time.monotonic() - produced_at
            with (Path(tmp) / "worker.log").open("wb") as log:
                worker = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "leadgate.cli",
                    "run",
                    "--role",
                    "delivery",
                    env=worker_env(settings),
                    cwd=str(REPO),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log,
                )
                samples: list[tuple[float, float]] = []
                stop = asyncio.Event()
                sampler = asyncio.create_task(_sample(worker.pid, samples, stop))
                try:
                    started = await _first_request(sandbox, worker)
                    await asyncio.sleep(max(started + seconds - time.time(), 0.0))
                    stop.set()
                    await sampler
                finally:
                    stop.set()
                    if worker.returncode is None:
                        worker.terminate()
                    await worker.wait()
            served = [r for r in await sandbox.api_requests() if r["status"] != 429]
    half = started + seconds / 2
    first = max((rss for t, rss in samples if t < half), default=0.0)
    second = max((rss for t, rss in samples if t >= half), default=0.0)
    peak = max(rss for _, rss in samples)
    at_start = next((rss for t, rss in samples if t >= started), 0.0)
    return {
        "p6_peak_rss_mb": round(peak, 1),
        "p6_flat": second <= max(first * 1.1, first + 10),
        "p6_peak_first_half_mb": round(first, 1),
        "p6_peak_second_half_mb": round(second, 1),
        "p6_rss_at_first_request_mb": round(at_start, 1),
        "p6_backlog": backlog,
        "p6_backlog_produce_s": round(produce_s, 1),
        "p6_requests_served": len(served),
        "p6_worker_exit_code": worker.returncode,
    }
