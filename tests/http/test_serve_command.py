"""``leadgate serve``: the production HTTP service as a process, against a real broker."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys

import aiohttp

from leadgate.settings import KafkaSettings
from tests.plugins.collector import WRITE_KEY, basic, topic_records


async def test_serve_accepts_events_and_stops_cleanly(kafka_settings: KafkaSettings) -> None:
    """`leadgate serve --port 0` listens, turns a curl-style identify into a Kafka record, refuses
    a wrong key, and exits 0 on SIGTERM."""
    env = {
        **os.environ,
        "LEADGATE_KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "LEADGATE_KAFKA__EVENTS_TOPIC": kafka_settings.events_topic,
        "LEADGATE_COLLECTOR__WRITE_KEYS": json.dumps([{"key": WRITE_KEY, "name": "web"}]),
        "LEADGATE_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadgate.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, "leadgate serve exited before listening"
            found = re.search(r"listening on (http://\S+)", line)
            url = found.group(1) if found else None
        identify = {"userId": "user-123", "traits": {"email": "jane.doe@acme.com"}}
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/v1/identify", json=identify, headers=basic(WRITE_KEY)
            ) as r:
                assert r.status == 200
            async with http.post(f"{url}/v1/identify", json=identify, headers=basic("wrong")) as r:
                assert r.status == 401
            async with http.get(f"{url}/readyz") as r:
                assert r.status == 200
        records = await topic_records(kafka_settings, kafka_settings.events_topic)
        assert [rec.value["userId"] for rec in records] == ["user-123"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_refuses_to_start_without_write_keys() -> None:
    """Without any write key, serve exits 2 and says which setting to set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadgate.cli",
        "serve",
        "--port",
        "0",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert b"LEADGATE_COLLECTOR__WRITE_KEYS" in err
