"""Two-way sync (issue 11), three figures measured side by side in one run.

``s1``: webhook ingest. ``leadgate serve`` runs in its own process on the embedded broker (as in
P7) with a webhook secret; 64 keep-alive connections post signed ~1 KB ``prospect.updated``
deliveries (each with its own event id, so none is a duplicate) to ``/outreach/webhooks`` for
``seconds``; a 200 means the broker acknowledged it. Single ``/v1/track`` events to the same
server, same connections, same duration, give the collector's events/s beside it.
``s1_webhook_p99_ms`` is the p99 of the answers at a steady ``rate`` (50/s) below saturation
(Outreach waits 5 s; P29 asks 1 s); the saturated run's p99 (queueing behind 64 connections)
is reported beside it.

``s2``: edit-to-mirror latency. The sandbox (its own process) delivers each rep edit (a PATCH
with the rep's token) to a running leadgate (HTTP + inbound worker, this process); the time
from the PATCH's answer to the mirror holding the new title, for ``edits`` sequential edits.

``s3``: export. ``leadgate outreach export`` logic against a sandbox (in this process, seeded
directly) holding ``prospects`` records, with Outreach's budget scaled from 10,000 requests/hour
to ``rate_limit`` per ``window_s`` (30 per 30 s: a run of half a minute instead of hours; the
client's budget set to the same), pages of 1,000; prospects/s over the run against the ceiling
(budget requests/s times 1,000 per page), and every 429 the sandbox answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bench.collector_load import run_load
from bench.rig import (
    bench_settings,
    create_topics,
    embedded_broker,
    sandbox_process,
    served_url,
)
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.export import export
from leadgate.runtime.process import host
from leadgate.runtime.roles import Role
from leadgate.sandbox import SandboxConfig, build_sandbox_app
from leadgate.sandbox.documents import Write
from leadgate.sandbox.schema import PROSPECT
from leadgate.sandbox.state import SANDBOX
from leadgate.store.memory import MemoryStore

SECRET = "whsec-bench-0123456789abcdef"  # noqa: S105 -- the bench's own webhook secret

_SERVER = """
import asyncio, sys
from leadgate.kafka.broker import EmbeddedBroker
from leadgate.settings import Settings, KafkaSettings, CollectorSettings, WriteKey
from leadgate.commands.serve import serve
from leadgate.observability.logging import configure_logging

async def main():
    broker = EmbeddedBroker()
    await broker.start()
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, partitions=6)
    await broker.create_topics(kafka)
    settings = Settings(
        http_port=0, log_level="error", kafka=kafka, state_dir=sys.argv[3],
        collector=CollectorSettings(
            write_keys=(WriteKey(key=sys.argv[1], name="bench"),),
            per_ip_rate=1e9, per_key_rate=1e9,
        ),
        outreach={"webhook_secrets": [sys.argv[2]]},
    )
    configure_logging(settings)
    try:
        await serve(settings)
    finally:
        broker.stop()

asyncio.run(main())
"""


def _delivery(n: int) -> bytes:
    """A ~1 KB prospect.updated delivery."""
    body = {
        "data": {
            "type": "prospect",
            "id": n,
            "attributes": {
                "title": "VP Growth",
                "tags": ["Signal", "demo-request", "hot-lead"],
                "personalNote1": "x" * 720,
                "updatedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
            },
            "relationships": {"owner": {"type": "owner", "id": 2}},
        },
        "meta": {
            "deliveredAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "eventName": "prospect.updated",
            "jobId": str(uuid.uuid4()),
        },
    }
    return orjson.dumps(body)


async def _webhook_load(url: str, seconds: float, connections: int = 64) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    accepted = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(1, 10**9))
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal accepted
            while time.monotonic() < deadline:
                body = _delivery(next(counter))
                headers = {
                    "Content-Type": "application/vnd.api+json",
                    "Outreach-Webhook-Signature": hmac.new(
                        SECRET.encode(), body, hashlib.sha256
                    ).hexdigest(),
                    "Outreach-Webhook-Event-Id": str(uuid.uuid4()),
                }
                started = time.monotonic()
                async with session.post(
                    f"{url}/outreach/webhooks", data=body, headers=headers
                ) as response:
                    await response.read()
                latencies.append((time.monotonic() - started) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                accepted += response.status == 200

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "per_s": accepted / elapsed,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "statuses": statuses,
    }


async def _paced_p99(url: str, rate: float, seconds: float) -> tuple[float, dict[int, int]]:
    """Open-loop load: one delivery every 1/``rate`` s for ``seconds``; the answers' p99 (ms)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            body = _delivery(n)
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/vnd.api+json",
                "Outreach-Webhook-Signature": signature,
                "Outreach-Webhook-Event-Id": str(uuid.uuid4()),
            }
            started = time.monotonic()
            async with session.post(f"{url}/outreach/webhooks", data=body, headers=headers) as r:
                await r.read()
            latencies.append((time.monotonic() - started) * 1000)
            statuses[r.status] = statuses.get(r.status, 0) + 1

        tasks = []
        begin = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(10**8 + n)))
        await asyncio.gather(*tasks)
    latencies.sort()
    return latencies[int(0.99 * (len(latencies) - 1))], statuses


async def ingest(seconds: float = 10.0, rate: float = 50.0) -> dict[str, Any]:
    """s1: webhook deliveries/s vs the collector's single events/s, same server and load."""
    key = "wk_bench_" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    with tempfile.TemporaryDirectory(prefix="leadgate-bench-s1-") as tmp:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SERVER, key, SECRET, tmp, stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        try:
            url = await served_url(server, "leadgate serve")
            await _webhook_load(url, 1.0, connections=4)
            hooks = await _webhook_load(url, seconds)
            track = await run_load(url, key, mode="single", connections=64, duration_s=seconds)
            p99, paced = await _paced_p99(url, rate, seconds)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
    return {
        "s1_webhook_deliveries_per_s": round(hooks["per_s"]),
        "s1_collector_single_eps": round(track.events_per_s),
        # P29: the answer's p99 at a steady rate below saturation (Outreach's deliveries arrive
        # one per change, not 64 at once); the saturated run's p99 is queueing, shown beside.
        "s1_webhook_p99_ms": round(p99, 1),
        "s1_webhook_p99_rate_per_s": rate,
        "s1_webhook_saturated_p99_ms": (
            round(hooks["p99_ms"], 1) if hooks["p99_ms"] is not None else None
        ),
        "s1_webhook_statuses": {
            str(k): hooks["statuses"].get(k, 0) + paced.get(k, 0)
            for k in sorted(set(hooks["statuses"]) | set(paced))
        },
    }


async def edit_to_mirror(edits: int = 200) -> dict[str, Any]:
    """s2: p99 from a rep's edit in the sandbox to the mirror holding it."""
    from leadgate.kafka.broker import free_port

    async with embedded_broker() as broker, sandbox_process() as sandbox:
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-s2-") as tmp:
            port = free_port()
            settings = bench_settings(
                broker.bootstrap,
                Path(tmp) / "state",
                sandbox_url=sandbox.url,
                webhook_url=f"http://127.0.0.1:{port}/outreach/webhooks",
                webhook_secrets=[SECRET],
                reconcile_interval_s=3600,
            )
            settings = settings.model_copy(update={"http_port": port})
            await create_topics(settings)
            session = sandbox.session
            async with host(settings, role=Role.INBOUND, http=True) as running:
                await running.ready()
                assert running.workers is not None
                assert running.workers.inbound is not None
                mirror = running.workers.inbound.worker.mirror
                token = await _token(session, sandbox.url)
                auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                hook_ok = False
                for _ in range(200):
                    async with session.get(f"{sandbox.url}/__sandbox/webhooks") as response:
                        hook_ok = bool((await response.json(content_type=None))["data"])
                    if hook_ok:
                        break
                    await asyncio.sleep(0.05)
                body = {"data": {"type": "prospect", "attributes": {"emails": ["rep@acme.com"]}}}
                async with session.post(
                    f"{sandbox.url}/api/v2/prospects", json=body, headers=auth
                ) as response:
                    prospect_id = (await response.json(content_type=None))["data"]["id"]
                samples: list[float] = []
                for n in range(edits):
                    title = f"Title {n}"
                    patch = {
                        "data": {"type": "prospect", "id": prospect_id,
                                 "attributes": {"title": title}}
                    }  # fmt: skip
                    async with session.patch(
                        f"{sandbox.url}/api/v2/prospects/{prospect_id}", json=patch, headers=auth
                    ) as response:
                        assert response.status == 200
                    edited = time.monotonic()
                    while True:
                        doc = await mirror.get("prospect", prospect_id)
                        if doc is not None and doc["attributes"].get("title") == title:
                            break
                        if time.monotonic() - edited > 10:
                            raise RuntimeError("an edit did not reach the mirror in 10 s")
                        await asyncio.sleep(0.002)
                    samples.append((time.monotonic() - edited) * 1000)
                running.stop.set()
    samples.sort()
    return {
        "s2_edit_to_mirror_p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 1),
        "s2_edit_to_mirror_median_ms": round(statistics.median(samples), 1),
    }


async def _token(session: aiohttp.ClientSession, url: str) -> str:
    """A rep's (user 1 of a fresh refresh token) access token."""
    async with session.post(
        f"{url}/__sandbox/refresh-tokens", json={"scopes": ["prospects.all", "webhooks.all"]}
    ) as response:
        refresh = (await response.json(content_type=None))["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": refresh,
    }
    for _ in range(3):
        async with session.post(f"{url}/oauth/token", data=form) as response:
            if response.status == 200:
                return str((await response.json())["access_token"])
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise RuntimeError("no access token")


async def export_rate(
    prospects: int = 30_000, *, rate_limit: int = 30, window_s: float = 30.0
) -> dict[str, Any]:
    """s3: export prospects/s against the budget's ceiling, and 429s."""
    config = SandboxConfig(rate_limit=rate_limit, window_s=window_s, mint_interval_s=0)
    app = build_sandbox_app(config)
    state = app[SANDBOX]
    for n in range(prospects):
        state.store.create(PROSPECT, Write({"emails": [f"p{n}@acme.example"], "tags": ["x"]}, {}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        with tempfile.TemporaryDirectory(prefix="leadgate-bench-s3-") as tmp:
            settings = bench_settings(
                "127.0.0.1:9",
                Path(tmp) / "state",
                sandbox_url=url,
                budget_per_hour=round(rate_limit * 3600 / window_s),
            )
            store = MemoryStore()
            async with OutreachClient(settings.outreach, store) as client:
                await client.auth.access_token()
                state.budget.clear()
                started = time.monotonic()
                result = await export(client, "prospects", Path(tmp) / "out.jsonl")
                elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    statuses = [r["status"] for r in state.requests if r["path"].startswith("/api/")]
    ceiling = rate_limit / window_s * 1000
    rate = result.written / elapsed
    return {
        "s3_export_share": round(rate / ceiling, 3),
        "s3_export_prospects_per_s": round(rate),
        "s3_export_ceiling_per_s": round(ceiling),
        "s3_429s": statuses.count(429),
        "s3_export_requests": len(statuses),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The three measures, one after the other."""
    figures: dict[str, Any] = {}
    figures.update(asyncio.run(ingest(seconds=3 if quick else 10)))
    figures.update(asyncio.run(edit_to_mirror(edits=50 if quick else 200)))
    figures.update(asyncio.run(export_rate(prospects=10_000 if quick else 30_000)))
    return figures


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        print(orjson.dumps(run(quick="--quick" in sys.argv), option=orjson.OPT_INDENT_2).decode())
