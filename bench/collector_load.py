"""Load client for the collector: events per second accepted (HTTP 200) on loopback.

Many concurrent keep-alive connections post either ``/v1/batch`` (``batch_size`` events per
request) or single ``/v1/track`` events, for ``duration_s`` seconds, and count what was
acknowledged (a 200 means Kafka acked every event of the request).

    python -m bench.collector_load                     # embedded broker + collector, both modes
    python -m bench.collector_load --url http://127.0.0.1:8400 --write-key KEY --mode batch

Without ``--url`` it starts the embedded broker and a collector in a separate process (so the
client does not steal the server's event loop) and stops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Literal

import aiohttp

from bench.rig import served_url

Mode = Literal["batch", "single"]


@dataclass
class LoadResult:
    """What one load run measured."""

    mode: str
    connections: int
    batch_size: int
    duration_s: float
    requests: int = 0
    events_accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def events_per_s(self) -> float:
        """Accepted events per second."""
        return self.events_accepted / self.duration_s if self.duration_s else 0.0

    def summary(self) -> dict[str, object]:
        """Plain-JSON figures (latency percentiles instead of the samples)."""
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else 0.0

        data = asdict(self)
        del data["latencies_ms"]
        data.update(
            events_per_s=round(self.events_per_s, 1),
            requests_per_s=round(self.requests / self.duration_s, 1),
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
        )
        return data


def _event(anonymous_id: str) -> dict[str, object]:
    return {
        "type": "track",
        "anonymousId": anonymous_id,
        "messageId": str(uuid.uuid4()),
        "event": "Demo Requested",
        "properties": {"plan": "team", "seats": 12},
        "context": {"consent": {"categories": {"marketing": True}}, "page": {"path": "/demo"}},
    }


async def run_load(
    url: str,
    write_key: str,
    *,
    mode: Mode = "batch",
    connections: int = 64,
    batch_size: int = 100,
    duration_s: float = 10.0,
) -> LoadResult:
    """Drive ``url`` with ``connections`` concurrent clients for ``duration_s`` seconds."""
    size = batch_size if mode == "batch" else 1
    result = LoadResult(mode, connections, size, duration_s)
    auth = aiohttp.encode_basic_auth(write_key, "")
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    path = "/v1/batch" if mode == "batch" else "/v1/track"
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.monotonic() + duration_s

        async def worker(n: int) -> None:
            anonymous_id = f"load-{n}"
            while time.monotonic() < deadline:
                if mode == "batch":
                    body = {"batch": [_event(anonymous_id) for _ in range(size)]}
                else:
                    body = _event(anonymous_id)
                started = time.perf_counter()
                async with session.post(f"{url}{path}", data=json.dumps(body)) as response:
                    await response.read()
                    status = str(response.status)
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.requests += 1
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if response.status == 200:
                    result.events_accepted += size

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        result.duration_s = time.monotonic() - started
    return result


_SERVER = """
import asyncio, json, sys
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
        http_port=0, log_level="error", kafka=kafka,
        collector=CollectorSettings(
            write_keys=(WriteKey(key=sys.argv[1], name="bench"),),
            per_ip_rate=1e9, per_key_rate=1e9,
        ),
    )
    configure_logging(settings)
    try:
        await serve(settings)
    finally:
        broker.stop()

asyncio.run(main())
"""


async def _with_local_collector(args: argparse.Namespace) -> list[LoadResult]:
    key = "wk_bench_" + uuid.uuid4().hex[:8]
    env = {**os.environ, "LEADGATE_LOG_LEVEL": "error"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVER, key, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        url = await served_url(server, "the collector", timeout_s=None)
        return [await _run(args, url, key, mode) for mode in _modes(args)]
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)


def _modes(args: argparse.Namespace) -> list[Mode]:
    return ["batch", "single"] if args.mode == "both" else [args.mode]


async def _run(args: argparse.Namespace, url: str, key: str, mode: Mode) -> LoadResult:
    await run_load(url, key, mode=mode, connections=4, batch_size=args.batch_size, duration_s=1.0)
    return await run_load(
        url,
        key,
        mode=mode,
        connections=args.connections,
        batch_size=args.batch_size,
        duration_s=args.duration,
    )


async def _main(args: argparse.Namespace) -> None:
    if args.url:
        results = [await _run(args, args.url, args.write_key, mode) for mode in _modes(args)]
    else:
        results = await _with_local_collector(args)
    for result in results:
        print(json.dumps(result.summary()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running collector (default: start one locally)")
    parser.add_argument("--write-key", default="", help="write key for --url")
    parser.add_argument("--mode", choices=["batch", "single", "both"], default="both")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    asyncio.run(_main(parser.parse_args()))
