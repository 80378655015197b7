"""The processor's trace writer on the embedded broker: when a batch's future resolves, every
trace added before it is on the traces topic, in the order added per messageId, and traces
added while a hand-over waits leave with the next one."""

from __future__ import annotations

import asyncio

import orjson

from leadgate.runtime.services import started_producer
from leadgate.settings import KafkaSettings, Settings
from leadgate.workers.trace_writer import TraceWriter
from tests.plugins.streams import read_topic


async def test_written_means_every_trace_added_before_is_on_the_topic(
    kafka_settings: KafkaSettings,
) -> None:
    """Batches adding traces while earlier ones are being handed over all end up written, and
    each future resolves only once its traces (and every earlier one) are acknowledged."""
    settings = Settings(kafka=kafka_settings)
    async with started_producer(settings) as producer:
        writer = TraceWriter(producer, settings)
        futures = []
        for batch in range(20):
            await writer.ready()
            for n in range(25):
                writer.add(f"m{n}", {"messageId": f"m{n}", "batch": batch})
            futures.append(writer.written())
            if batch % 5 == 0:
                await asyncio.sleep(0)  # let a hand-over start mid-way
        await asyncio.wait_for(futures[-1], 30)
        assert all(f.done() for f in futures)
        await writer.close()
    records = await read_topic(kafka_settings.bootstrap_servers, kafka_settings.traces_topic)
    by_id: dict[str, list[int]] = {}
    for record in records:
        body = orjson.loads(record.value)
        by_id.setdefault(body["messageId"], []).append(body["batch"])
    assert len(records) == 20 * 25
    assert all(batches == list(range(20)) for batches in by_id.values())


async def test_written_without_new_traces_is_the_last_hand_over(
    kafka_settings: KafkaSettings,
) -> None:
    """A batch that added nothing waits for the traces handed over before it, and a writer that
    never wrote answers at once."""
    settings = Settings(kafka=kafka_settings)
    async with started_producer(settings) as producer:
        writer = await TraceWriter(producer, settings).ready()
        assert writer.written().done()
        writer.add("m1", {"messageId": "m1"})
        first = writer.written()
        assert writer.written() is first
        await asyncio.wait_for(first, 30)
        assert writer.written() is first
        await writer.close()
