"""leadgate's one way to make a Kafka producer, so every writer has the same guarantees.

``acks="all"``: a record counts as written only once every in-sync replica has it (the collector
answers 200 and the workers commit offsets only after that). Idempotence is a setting because the
embedded broker rejects ``InitProducerId``; turn it on against a real cluster, where it also
stops a retried batch from being written twice (aiokafka #197).
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from leadgate.settings import KafkaSettings

# No linger: aiokafka keeps one produce request in flight per broker, so under load records
# still batch behind the request in flight, and an idle moment sends at once (an ack 8 -> 2 ms
# p50 against the embedded broker, bench P5; the collector's rate did not change, bench P7).
LINGER_MS = 0
# The processor hands each batch's traces over as one record batch per partition; with
# aiokafka's 16 KiB default a batch of 500 events needs several, and each waits for the one
# before it to leave (bench P2). A batch is only as large as its records; this is a ceiling.
MAX_BATCH_BYTES = 256 * 1024


def make_producer(settings: KafkaSettings, *, client_id: str = "leadgate") -> AIOKafkaProducer:
    """A producer (not started yet: ``await producer.start()``) with acks=all."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        linger_ms=LINGER_MS,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=settings.request_timeout_ms,
    )
