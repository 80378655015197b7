"""The embedded broker really is a Kafka: produce, consume in a group, commit."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from leadgate.settings import KafkaSettings


async def test_produce_consume_commit(kafka_settings: KafkaSettings) -> None:
    """Records produced with acks=all come back to a consumer group and its commit sticks."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for i in range(30):
            await producer.send_and_wait(kafka_settings.events_topic, b"%d" % i, key=b"k%d" % i)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        kafka_settings.events_topic,
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=kafka_settings.processor_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen: list[bytes] = []
        while len(seen) < 30:
            batch = await consumer.getmany(timeout_ms=2000)
            for tp, records in batch.items():
                seen.extend(r.value for r in records)
                await consumer.commit({tp: records[-1].offset + 1})
        assert sorted(int(v) for v in seen) == list(range(30))
        committed = [
            await consumer.committed(TopicPartition(kafka_settings.events_topic, p))
            for p in range(kafka_settings.partitions)
        ]
        assert sum(c or 0 for c in committed) == 30
    finally:
        await consumer.stop()
