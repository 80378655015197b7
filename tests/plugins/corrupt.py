"""Record batches that no consumer can decode, written to the broker byte for byte.

A real producer never writes these; a disk, a proxy or a buggy client can. The embedded broker
stores a v2 batch without checking its CRC or its compressed payload (it does refuse a codec id
it does not know), so the tests build a batch with aiokafka's builder, break it, and send it in
a raw Produce request.
"""

from __future__ import annotations

import struct

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record._crc32c import crc as crc32c
from aiokafka.record.default_records import DefaultRecordBatchBuilder

CODEC_LZ4 = 3
_BASE_OFFSET = 0
_CRC_AT = 17
_ATTRIBUTES_AT = 21


def build_batch(
    values: list[bytes], *, codec: int = 0, key: bytes = b"k", base_offset: int = 0
) -> bytearray:
    """A valid v2 record batch of ``values`` (headers ``h=1``) starting at ``base_offset``."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta, value in enumerate(values):
        builder.append(delta, timestamp=None, key=key, value=value, headers=[("h", b"1")])
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, _BASE_OFFSET, base_offset)
    return batch


def _recompute_crc(batch: bytearray) -> bytearray:
    struct.pack_into(">I", batch, _CRC_AT, crc32c(bytes(batch[_ATTRIBUTES_AT:])))
    return batch


def crc_mismatch(batch: bytearray) -> bytearray:
    """``batch`` with one byte of its last record flipped and the CRC left as it was."""
    broken = bytearray(batch)
    broken[-2] ^= 0xFF
    return broken


def garbage_lz4(batch: bytearray) -> bytearray:
    """``batch`` claiming lz4 compression for its plain records, with a CRC that matches (the
    decompressor fails, not the checksum)."""
    broken = bytearray(batch)
    struct.pack_into(">h", broken, _ATTRIBUTES_AT, CODEC_LZ4)
    return _recompute_crc(broken)


async def produce_raw(bootstrap: str, topic: str, partition: int, batch: bytes | bytearray) -> int:
    """Append ``batch`` to ``topic[partition]`` as it is; returns the offset the broker gave."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        client.add_topic(topic)
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        request = ProduceRequest(
            transactional_id=None,
            required_acks=-1,
            timeout=10_000,
            topics=[(topic, [(partition, bytes(batch))])],
        )
        response = await client.send(leader, request)
    finally:
        await client.close()
    (_topic, partitions) = response.topics[0]
    _partition, error_code, offset, *_ = partitions[0]
    assert error_code == 0, f"the broker refused the batch: error {error_code}"
    return int(offset)
