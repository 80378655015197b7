"""How much the state store grows with traffic: ``state_bytes_per_million_events``.

The production processor (in this process) consumes the website mix of ``bench/workload.py``
from the embedded broker, once on a fresh SQLite file and once on a fresh redis-server, and the
store's growth is measured: the SQLite file after a WAL checkpoint, Redis's ``used_memory``.
The run is the target workload at a smaller scale with the same shape: ``count`` events from
``count / 5`` visitors (one million events from 200,000 visitors is 5 events per visitor), and
the growth is scaled linearly to one million events (profiles grow with visitors, seen ids with
events, and both scale by the same factor here).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.p2_consume import _key, _TimedProcessor
from bench.redis_rig import redis_server
from bench.rig import PRESET, bench_settings, create_topics, embedded_broker, produce
from bench.workload import records
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.kafka.producer import make_producer
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetReloader
from leadgate.store.redis import RedisStore
from leadgate.store.sqlite import STATE_FILE, open_store

MILLION = 1_000_000
EVENTS_PER_VISITOR = 5
TIMEOUT_S = 600.0


async def _process_all(settings: Settings, store: StateStore, count: int, group: str) -> None:
    kafka = settings.kafka.model_copy(update={"processor_group": group})
    settings = settings.model_copy(update={"kafka": kafka})
    producer = make_producer(kafka)
    await producer.start()
    stop = asyncio.Event()
    try:
        processor = _TimedProcessor(
            settings, store, producer, PresetReloader(PRESET), DeadLetterWriter(producer, kafka)
        )
        processor.target = count
        processor.finished = asyncio.Event()
        task = asyncio.create_task(processor.run(stop))
        await asyncio.wait_for(processor.finished.wait(), TIMEOUT_S)
        stop.set()
        await task
    finally:
        stop.set()
        await producer.stop()


def _sqlite_breakdown(path: Path) -> dict[str, dict[str, int]]:
    """Bytes (pages) and rows of every table, its indexes counted with it (``dbstat``)."""
    out: dict[str, dict[str, int]] = {}
    with sqlite3.connect(path) as conn:
        names = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = names.get(name, name)
            entry = out.setdefault(table, {"bytes": 0, "rows": 0})
            entry["bytes"] += int(size)
        for table in list(out):
            if table.startswith("sqlite_"):
                continue
            entry = out[table]
            count = f"SELECT COUNT(*) FROM [{table}]"  # noqa: S608 -- names from sqlite_master
            entry["rows"] = int(conn.execute(count).fetchone()[0])
        if "docs" in out:  # the documents per collection (rows only; bytes are the table's)
            for collection, rows in conn.execute(
                "SELECT collection, COUNT(*) FROM docs GROUP BY collection"
            ):
                out[f"docs:{collection}"] = {"bytes": 0, "rows": int(rows)}
    return out


async def _redis_breakdown(url: str, namespace: str) -> dict[str, dict[str, int]]:
    """``MEMORY USAGE`` and key count per kind of key (the part of the key after the namespace,
    up to the identity: ``p:user``, ``p:anon``, ``s``, ``d:{privacy.person}``, ...)."""
    client = aioredis.Redis.from_url(url)
    out: dict[str, dict[str, int]] = {}
    try:
        async for raw in client.scan_iter(match=namespace + "*", count=1000):
            key = raw.decode()[len(namespace) :]
            kind, _, rest = key.partition(":")
            if kind == "p":
                kind = "p:" + rest.partition(":")[0]
            elif rest.startswith("{"):
                kind = kind + ":" + rest.partition("}")[0] + "}"
            entry = out.setdefault(kind, {"bytes": 0, "keys": 0})
            entry["bytes"] += int(await client.memory_usage(raw) or 0)
            entry["keys"] += 1
    finally:
        await client.aclose()
    return out


def _sqlite_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


async def _redis_used(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        info = await client.info("memory")
        return int(info["used_memory"])
    finally:
        await client.aclose()


def _scaled(kinds: dict[str, dict[str, int]], scale: float) -> dict[str, str]:
    """Each kind's share per million events, as text: ``"12.3 MB, 45,600 rows"``."""
    return {
        kind: ", ".join(
            f"{v * scale / 2**20:.1f} MB" if unit == "bytes" else f"{round(v * scale):,} {unit}"
            for unit, v in entry.items()
            if v or unit != "bytes"
        )
        for kind, entry in sorted(kinds.items(), key=lambda item: -item[1].get("bytes", 0))
    }


async def run(count: int = 50_000) -> dict[str, Any]:
    """Measure the state size per million events on SQLite and on Redis."""
    visitors = count // EVENTS_PER_VISITOR
    events = records(count, users=visitors)
    scale = MILLION / count
    with redis_server() as url, tempfile.TemporaryDirectory(prefix="leadgate-bench-st-") as tmp:
        async with embedded_broker() as broker:
            settings = bench_settings(broker.bootstrap, Path(tmp) / "state")
            await create_topics(settings)
            await produce(
                broker.bootstrap, settings.kafka.events_topic, ((_key(r), r) for r in events)
            )
            sqlite_store = await open_store(settings.state_dir)
            empty = _sqlite_bytes(settings.state_dir / STATE_FILE)
            try:
                await _process_all(settings, sqlite_store, count, "bench-state-sqlite")
            finally:
                await sqlite_store.close()
            sqlite_growth = _sqlite_bytes(settings.state_dir / STATE_FILE) - empty
            sqlite_kinds = _sqlite_breakdown(settings.state_dir / STATE_FILE)
            redis_store = RedisStore(url, namespace="leadgate:")
            before = await _redis_used(url)
            try:
                await _process_all(settings, redis_store, count, "bench-state-redis")
            finally:
                await redis_store.close()
            redis_growth = await _redis_used(url) - before
            redis_kinds = await _redis_breakdown(url, "leadgate:")
    return {
        "state_bytes_per_million_events": {
            "sqlite": round(sqlite_growth * scale),
            "redis": round(redis_growth * scale),
        },
        "state_measured_events": count,
        "state_measured_visitors": visitors,
        "state_breakdown_per_million_events": {
            "sqlite": _scaled(sqlite_kinds, scale),
            "redis": _scaled(redis_kinds, scale),
        },
        "state_mb_per_million_events": {
            "sqlite": round(sqlite_growth * scale / 2**20, 1),
            "redis": round(redis_growth * scale / 2**20, 1),
        },
    }
