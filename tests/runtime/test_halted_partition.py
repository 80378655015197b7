"""``kafka.errors_tolerance=none`` in a running process: a partition stopped at a batch it
cannot decode is named by ``/readyz`` (503), the inspector and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.runtime.process import host
from leadgate.runtime.roles import Role
from leadgate.settings import KafkaSettings, Settings, WriteKey
from tests.plugins.corrupt import build_batch, crc_mismatch, produce_raw
from tests.plugins.events import LEAD_CAPTURE
from tests.plugins.streams import wait_for

TOKEN = "inspector-token-halted"


async def test_a_halted_partition_makes_the_process_unready_and_says_where(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> None:
    """A CRC-broken batch in events partition 0 with strict tolerance: /readyz answers 503 with
    "<topic>[0] stopped at offsets 0-1 (crc_mismatch)", the inspector's health says the same
    and ``leadgate_partition_halted`` is 1 for that partition."""
    values = make_kafka_settings(errors_tolerance="none").model_dump()
    del values["session_timeout_ms"]
    kafka = KafkaSettings(**values)
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    settings = Settings(
        state_dir=tmp_path / "state",
        http_port=0,
        kafka=kafka,
        collector={"write_keys": (WriteKey(key=SecretStr("wk-halted-test"), name="web"),)},
        inspector={"token": SecretStr(TOKEN)},
        pipeline={"presets": (LEAD_CAPTURE,)},
    )
    await produce_raw(
        kafka.bootstrap_servers, kafka.events_topic, 0, crc_mismatch(build_batch([b"a", b"b"]))
    )
    async with (
        host(settings, role=Role.PROCESSOR, http=True) as running,
        aiohttp.ClientSession() as session,
    ):
        assert running.http is not None
        url = running.http.url
        where = f"{kafka.events_topic}[0] stopped at offsets 0-1 (crc_mismatch)"

        async def unready() -> bool:
            async with session.get(f"{url}/readyz") as response:
                body = await response.json()
                return response.status == 503 and any(
                    p.startswith(where) for p in body.get("problems", [])
                )

        await wait_for(unready, timeout_s=30)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(f"{url}/inspector/api/health", headers=bearer) as response:
            assert response.status == 200
            problems = (await response.json())["problems"]
        assert any(p.startswith(where) for p in problems)
        async with session.get(f"{url}/metrics") as response:
            metrics = await response.text()
        line = (
            f'leadgate_partition_halted{{group="{kafka.processor_group}",'
            f'partition="0",topic="{kafka.events_topic}"}} 1.0'
        )
        assert line in metrics
