"""P3 shared: three delivery processes, one Outreach budget.

``leadgate run --role delivery --processes 3`` on the Redis state store (so the three share one
budget in Redis) drains a backlog of new leads behind the sandbox (own process) at ``rate_limit``
requests per ``window_s`` (600 per 60 s, 50 ms latency), every process configured with the
whole budget (``budget_per_hour`` = the same 600/min; no share set by hand). Measured over
``windows`` budget windows from the first API request, as ``p3_budget``:

- ``p3_shared_budget_share``: API requests served (not 429) in those windows ÷ (``rate_limit`` *
  windows);
- ``p3_shared_429s``: every 429 of the run.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.p3_budget import _first_request
from bench.redis_rig import redis_server
from bench.rig import (
    REPO,
    bench_settings,
    create_topics,
    embedded_broker,
    lead_intents,
    produce,
    request_epoch,
    sandbox_process,
    worker_env,
)

PROCESSES = 3


async def run(
    windows: int = 2, *, rate_limit: int = 600, window_s: float = 60.0, backlog: int = 3000
) -> dict[str, Any]:
    """Measure the shared-budget P3 keys and return their figures."""
    with redis_server() as url, tempfile.TemporaryDirectory(prefix="leadgate-bench-p3s-") as tmp:
        async with (
            embedded_broker() as broker,
            sandbox_process(rate_limit=rate_limit, window_s=window_s, latency_ms=50) as sandbox,
        ):
            settings = bench_settings(
                broker.bootstrap,
                Path(tmp) / "state",
                sandbox_url=sandbox.url,
                budget_per_hour=round(rate_limit * 3600 / window_s),
            )
            await create_topics(settings)
            await produce(broker.bootstrap, settings.kafka.delivery_topic, lead_intents(backlog))
            env = worker_env(settings)
            env["LEADGATE_STATE__URL"] = url
            env["LEADGATE_STATE__NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}:"
            with (Path(tmp) / "delivery.log").open("ab") as stderr:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "leadgate.cli", "run", "--role", "delivery",
                    "--processes", str(PROCESSES),
                    env=env, cwd=str(REPO), stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
                )  # fmt: skip
            try:
                first = await _first_request(sandbox, timeout_s=180)
                await asyncio.sleep(max(first + windows * window_s + 3.0 - time.time(), 0.0))
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 90)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            log = await sandbox.api_requests()
    cutoff = first + windows * window_s
    served = sum(1 for r in log if request_epoch(r) < cutoff and r["status"] != 429)
    return {
        "p3_shared_budget_share": round(served / (rate_limit * windows), 3),
        "p3_shared_429s": sum(1 for r in log if r["status"] == 429),
        "p3_shared_served_in_windows": served,
        "p3_shared_processes": PROCESSES,
        "p3_shared_prospects_created": sum(
            1 for r in log if r["method"] == "POST" and r["status"] == 201
        ),
    }
