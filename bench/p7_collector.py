"""P7: events/s the collector accepts (HTTP 200, sent only after Kafka acked every event of the
request) on loopback.

The collector runs in its own process (``leadgate.commands.serve.serve`` on the embedded broker,
started by ``bench.collector_load``'s server script; rate limits lifted, logging at error) so the
load client does not share its event loop; the broker is a third process. The load client
(``bench.collector_load.run_load``) keeps 64 keep-alive connections busy. The key figure is
``/v1/batch`` with 100 events per request (how server-side sources and SDK queues send); single
``/v1/track`` events per request (a browser without batching) are reported beside it. Median of
``reps`` runs of ``seconds`` each, after a 1 s warm-up, the two modes interleaved.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import uuid
from typing import Any

from bench.collector_load import _SERVER, Mode, run_load
from bench.rig import served_url


async def run(seconds: float = 10.0, reps: int = 5) -> dict[str, Any]:
    """Measure P7 and return its figures."""
    key = "wk_bench_" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVER, key, stderr=asyncio.subprocess.PIPE, env=env
    )
    batch: list[float] = []
    single: list[float] = []
    statuses: dict[str, int] = {}
    try:
        url = await served_url(server, "the collector")
        modes: tuple[tuple[Mode, list[float]], ...] = (("batch", batch), ("single", single))
        for mode, _ in modes:
            await run_load(url, key, mode=mode, connections=4, duration_s=1.0)
        for _ in range(reps):
            for mode, rates in modes:
                result = await run_load(url, key, mode=mode, connections=64, duration_s=seconds)
                rates.append(result.events_per_s)
                for status, n in result.statuses.items():
                    statuses[f"{mode} {status}"] = statuses.get(f"{mode} {status}", 0) + n
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
    return {
        "p7_collector_eps": round(statistics.median(batch)),
        "p7_batch_eps_reps": [round(x) for x in batch],
        "p7_single_event_eps": round(statistics.median(single)),
        "p7_single_event_eps_reps": [round(x) for x in single],
        "p7_statuses": dict(sorted(statuses.items())),
    }
