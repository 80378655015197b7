"""P3: how much of Outreach's budget the delivery worker uses, and how many 429s it provokes.

The sandbox runs in its own process with a budget of ``rate_limit`` requests per ``window_s``
(600 per 60 s in the record run; Outreach's own is 10,000 per hour) and 50 ms latency. The real
delivery worker (production settings, SQLite store in a temp dir, ``budget_per_hour`` set to the
same 600/min) drains a backlog of new leads from the delivery topic for ``windows`` budget
windows, counted from its first API request (the consumer group join is not part of the run).

``p3_budget_share`` = API requests the sandbox served (status other than 429) in the complete
budget windows of the run (from the first API request) ÷ (``rate_limit`` times those windows);
``p3_429s`` = every 429 of the whole run, from the sandbox's request log.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.rig import (
    Sandbox,
    bench_settings,
    create_topics,
    embedded_broker,
    lead_intents,
    produce,
    request_epoch,
    sandbox_process,
)
from leadgate.runtime.roles import Role, workers


async def _first_request(sandbox: Sandbox, timeout_s: float = 120.0) -> float:
    """When the first API request reached the sandbox (the worker has joined its group)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = await sandbox.api_requests()
        if log:
            return request_epoch(log[0])
        await asyncio.sleep(0.2)
    raise RuntimeError("the delivery worker sent nothing to the sandbox")


async def run(
    windows: int = 2, *, rate_limit: int = 600, window_s: float = 60.0, backlog: int = 3000
) -> dict[str, Any]:
    """Measure P3 and return its figures."""
    async with (
        embedded_broker() as broker,
        sandbox_process(rate_limit=rate_limit, window_s=window_s, latency_ms=50) as sandbox,
    ):
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-p3-") as tmp:
            settings = bench_settings(
                broker.bootstrap,
                Path(tmp) / "state",
                sandbox_url=sandbox.url,
                budget_per_hour=round(rate_limit * 3600 / window_s),
            )
            await create_topics(settings)
            await produce(broker.bootstrap, settings.kafka.delivery_topic, lead_intents(backlog))
            stop = asyncio.Event()
            async with workers(settings, Role.DELIVERY, stop):
                first = await _first_request(sandbox)
                # a little past the last window's end, so its boundary is exercised too
                await asyncio.sleep(max(first + windows * window_s + 3.0 - time.time(), 0.0))
            log = await sandbox.api_requests()
    times = [request_epoch(r) for r in log]
    cutoff = first + windows * window_s
    served = sum(1 for r, t in zip(log, times, strict=True) if t < cutoff and r["status"] != 429)
    too_many = sum(1 for r in log if r["status"] == 429)
    writes = sum(1 for r in log if r["method"] == "POST" and r["status"] == 201)
    return {
        "p3_budget_share": round(served / (rate_limit * windows), 3),
        "p3_429s": too_many,
        "p3_served_in_windows": served,
        "p3_windows": windows,
        "p3_api_requests_total": len(log),
        "p3_prospects_created": writes,
        "p3_sandbox_budget": f"{rate_limit}/{window_s:g}s, 50 ms latency",
    }
