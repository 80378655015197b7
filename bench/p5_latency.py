"""P5: milliseconds from produce to the Outreach request, at 500 events/s on loopback.

The website mix is produced at ``rate`` events/s for ``seconds`` with leadgate's producer (as
the collector would); every lead event of the mix is replaced by a lead of a new, distinct
person, stamped with its produce time (``timestamp``, and remembered by email). The processor
and the delivery worker run in this process (production wiring, SQLite store in a temp dir);
the sandbox runs unthrottled in its own process, the client's budget is lifted. A lead's latency
is from its produce call to the first API request that carries its email arriving at the
sandbox (its request log has the times).

Two runs: production settings (the 1 s coalescing window holds every lead back on purpose, so
that a burst of one person's events becomes one write), and the same with
``coalesce_window_s=0``, which shows what the pipeline itself costs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from bench.rig import (
    Sandbox,
    bench_settings,
    create_topics,
    embedded_broker,
    request_epoch,
    sandbox_process,
)
from bench.workload import LEAD_EVENTS, records
from leadgate.kafka.producer import make_producer
from leadgate.runtime.roles import Role, Workers, workers
from leadgate.settings import Settings


def _tracked_lead(n: int, sent_at: float) -> tuple[str, dict[str, Any]]:
    email = f"latency.{n}@company{n % 97}.example.com"
    stamp = dt.datetime.fromtimestamp(sent_at, dt.UTC).isoformat().replace("+00:00", "Z")
    event = {
        "type": "track",
        "event": LEAD_EVENTS[n % len(LEAD_EVENTS)],
        "messageId": str(uuid.uuid4()),
        "anonymousId": f"anon-latency-{n}",
        "timestamp": stamp,
        "properties": {},
        "context": {
            "consent": {"categories": {"marketing": True}},
            "traits": {"email": email, "firstName": "Lat", "lastName": f"Ency{n}"},
        },
    }
    return email, event


def _is_lead(event: dict[str, Any]) -> bool:
    return event.get("type") == "track" and event.get("event") in LEAD_EVENTS


async def _joined(running: Workers, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    loops = [w.loop for w in (running.processor, running.delivery) if w is not None]
    while any(loop.assignments == 0 for loop in loops):
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not join their groups")
        await asyncio.sleep(0.1)


def _arrivals(log: list[dict[str, Any]]) -> dict[str, float]:
    """Email -> when the first API request carrying it reached the sandbox."""
    first: dict[str, float] = {}
    for entry in log:
        text = unquote(str(entry.get("query"))) + orjson.dumps(entry.get("body")).decode()
        start = text.find("latency.")
        if start < 0:
            continue
        email = text[start:].split('"', 1)[0].split("'", 1)[0]
        first.setdefault(email, request_epoch(entry))
    return first


async def _one_run(
    settings: Settings, sandbox: Sandbox, rate: int, seconds: float
) -> tuple[list[float], int]:
    mix = records(int(rate * seconds), seed=5)
    sent: dict[str, float] = {}
    producer = make_producer(settings.kafka)
    await producer.start()
    stop = asyncio.Event()
    try:
        async with workers(settings, Role.ALL, stop) as running:
            await _joined(running)
            acks = []
            tick = 0.01
            per_tick = max(1, round(rate * tick))
            started = time.perf_counter()
            for i, raw in enumerate(mix):
                if i % per_tick == 0:
                    due = started + (i // per_tick) * tick
                    await asyncio.sleep(max(due - time.perf_counter(), 0))
                try:
                    event = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    event = None
                if isinstance(event, dict) and _is_lead(event):
                    now = time.time()
                    email, event = _tracked_lead(len(sent), now)
                    sent[email] = now
                    raw = orjson.dumps(event)
                key = (
                    str(event.get("anonymousId", "")).encode() if isinstance(event, dict) else None
                )
                acks.append(await producer.send(settings.kafka.events_topic, raw, key=key))
            await asyncio.gather(*acks)
            deadline = time.monotonic() + 60
            arrived: dict[str, float] = {}
            while time.monotonic() < deadline:
                arrived = _arrivals(await sandbox.api_requests())
                if all(email in arrived for email in sent):
                    break
                await asyncio.sleep(0.5)
    finally:
        await producer.stop()
    latencies = [(arrived[e] - t) * 1000 for e, t in sent.items() if e in arrived]
    return latencies, len(sent) - len(latencies)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else 0


async def run(
    seconds: float = 15.0, rate: int = 500, windows: tuple[float | None, ...] = (None, 0.0)
) -> dict[str, Any]:
    """Measure P5 and return its figures (``windows``: the coalescing windows to run, None for
    the default)."""
    figures: dict[str, Any] = {}
    for window in windows:
        name = "p5" if window is None else "p5_no_coalescing" if window == 0 else f"p5_w{window:g}"
        async with embedded_broker() as broker, sandbox_process() as sandbox:
            with tempfile.TemporaryDirectory(prefix="leadgate-bench-p5-") as tmp:
                extra: dict[str, Any] = {"budget_per_hour": 10_000_000}
                if window is not None:
                    extra["coalesce_window_s"] = window
                settings = bench_settings(
                    broker.bootstrap, Path(tmp) / "state", sandbox_url=sandbox.url, **extra
                )
                await create_topics(settings)
                latencies, missing = await _one_run(settings, sandbox, rate, seconds)
        figures[f"{name}_p99_ms"] = round(_p99(latencies), 1)
        figures[f"{name}_p50_ms"] = round(statistics.median(latencies), 1) if latencies else None
        figures[f"{name}_leads"] = len(latencies)
        if missing:
            figures[f"{name}_leads_not_arrived"] = missing
    figures["p5_load"] = f"{rate} events/s for {seconds:g} s (website mix)"
    return figures
