"""Reading a partition's record batches ourselves, for when the consumer cannot.

aiokafka decodes the record batches of a fetch while ``getmany`` hands them out. A batch it
cannot decode (a CRC mismatch, a codec it has no library for or does not know, a compressed
payload or a record that does not parse) raises out of ``getmany`` with no partition or offset
attached (only the CRC error names the partition), and it raises again on every later call: the
consumer's position never moves past the batch, and the good records fetched before it in the
same response are never returned either.

:func:`fetch_raw` asks the partition's leader for the bytes at an offset (one Fetch request on a
client of our own), and :func:`scan` walks them batch by batch with aiokafka's own decoder: the
records of the batches that decode (from the offset on) and the first batch that does not, with
its offset range and raw bytes, which is what the consume loop dead-letters or stops at.
:func:`rewind_lost` gets back the records of other partitions that the failing call took and
dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord

from leadgate.observability.logging import get_logger

# baseOffset (int64) and batchLength (int32) frame every batch, whatever its magic.
_FRAME = struct.Struct(">qi")
# The shortest batch of any magic: a v0 message with empty key and value (14 bytes after the
# frame); a v2 batch header alone is 49.
_MIN_LENGTH = 14
_MAGIC_AT = 16  # 8 + 4 + partitionLeaderEpoch (4)
_LAST_OFFSET_DELTA_AT = 23  # ... magic (1), crc (4), attributes (2)
_READ_UNCOMMITTED = 0
log = get_logger(__name__)
# The broker answers as soon as it has the bytes; an empty answer comes after this long.
_MAX_WAIT_MS = 500


class Detail:
    """Why a batch could not be read (the ``leadgate.error.detail`` of its dead letter)."""

    CRC_MISMATCH = "crc_mismatch"
    UNSUPPORTED_CODEC = "unsupported_codec"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class BadBatch:
    """A batch that does not decode: offsets ``first``..``last`` and its raw bytes."""

    first: int
    last: int
    raw: bytes
    detail: str
    error: str  # the decoder's exception class and message (no record content in it)


@dataclass(frozen=True, slots=True)
class Scan:
    """The records before the first undecodable batch, and that batch (None: all decode)."""

    records: list[Any]
    bad: BadBatch | None


def _detail(error: Exception) -> str:
    if isinstance(error, UnsupportedCodecError):
        return Detail.UNSUPPORTED_CODEC
    if isinstance(error, CorruptRecordException) and "CRC" in str(error):
        return Detail.CRC_MISMATCH
    return Detail.CORRUPT


def _decode(tp: TopicPartition, raw: bytes, position: int) -> list[Any]:
    """The records of one batch at or after ``position``, as the consumer would hand them out;
    raises what aiokafka raises for a batch it cannot read."""
    batch = MemoryRecords(raw).next_batch()
    if batch is None:
        raise CorruptRecordException("empty batch frame")
    if not batch.validate_crc():
        raise CorruptRecordException(f"Invalid CRC - {tp}")
    if getattr(batch, "is_control_batch", False):
        return []
    records = []
    for record in batch:
        if record.offset < position:
            continue
        key, value = record.key, record.value
        records.append(
            ConsumerRecord(
                tp.topic,
                tp.partition,
                record.offset,
                record.timestamp,
                record.timestamp_type,
                key,
                value,
                record.checksum,
                len(key) if key is not None else -1,
                len(value) if value is not None else -1,
                tuple(record.headers),
            )
        )
    return records


def _last_offset(frame: bytes, base: int) -> int:
    """The last offset a batch covers (v2 says so in its header; a v0/v1 entry is one offset)."""
    if len(frame) > _LAST_OFFSET_DELTA_AT + 4 and frame[_MAGIC_AT] >= 2:
        delta = int(struct.unpack_from(">i", frame, _LAST_OFFSET_DELTA_AT)[0])
        if delta >= 0:
            return base + delta
    return base


def scan(tp: TopicPartition, raw: bytes, position: int, *, complete: bool) -> Scan:
    """Walk ``raw`` (a fetch response's bytes for ``tp`` from ``position``) batch by batch.

    A batch cut short at the end is where the response stopped, not a fault, unless it is the
    first one and the response was ``complete`` (smaller than the size asked for): then its
    frame lies about its length and it is bad, covering ``position`` alone.
    """
    records: list[Any] = []
    at = 0
    while len(raw) - at >= _FRAME.size:
        base, length = _FRAME.unpack_from(raw, at)
        end = at + _FRAME.size + length
        if length < _MIN_LENGTH or end > len(raw):
            if records or at > 0 or not complete:
                break  # the rest is beyond this response
            bad = BadBatch(position, position, bytes(raw[at:]), Detail.CORRUPT, "bad batch frame")
            return Scan(records, bad)
        frame = bytes(raw[at:end])
        last = _last_offset(frame, base)
        at = end
        if last < position:
            continue  # a whole batch before the position (a fetch may start earlier)
        try:
            records.extend(_decode(tp, frame, position))
        except Exception as exc:  # whatever the decoder raises marks the batch unreadable
            error = f"{type(exc).__name__}: {exc}"[:200]
            bad = BadBatch(max(base, position), max(last, position), frame, _detail(exc), error)
            return Scan(records, bad)
    return Scan(records, None)


async def fetch_raw(
    bootstrap_servers: str,
    tp: TopicPartition,
    offset: int,
    *,
    max_bytes: int = 8 * 1024 * 1024,
    request_timeout_ms: int = 30_000,
) -> tuple[bytes, bool]:
    """The bytes the partition's leader returns for a fetch at ``offset`` and whether that is
    all there was (shorter than ``max_bytes``). Raises ``KafkaError`` on a broker error."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        client_id="leadgate-batch-reader",
        request_timeout_ms=request_timeout_ms,
    )
    await client.bootstrap()
    try:
        client.add_topic(tp.topic)
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(tp)
        if leader is None or leader == -1:
            raise KafkaError(f"no leader for {tp.topic}[{tp.partition}]")
        request = FetchRequest(
            _MAX_WAIT_MS,
            1,
            max_bytes,
            _READ_UNCOMMITTED,
            [(tp.topic, [(tp.partition, offset, max_bytes)])],
        )
        response = await client.send(leader, request)
    finally:
        await client.close()
    for topic, partitions in response.topics:
        for partition, error_code, _highwater, *data in partitions:
            if (topic, partition) == (tp.topic, tp.partition):
                if error_code:
                    raise KafkaError(f"fetch {tp.topic}[{tp.partition}]: error {error_code}")
                raw = bytes(data[-1] or b"")
                return raw, len(raw) < max_bytes
    return b"", True  # nothing at that offset (yet)


async def find_undecodable(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    *,
    bootstrap_servers: str,
    request_timeout_ms: int = 30_000,
) -> list[tuple[TopicPartition, Scan]]:
    """After ``getmany`` raised: the partitions among ``tps`` (those flowing) whose bytes at the
    consumer's position include a batch that does not decode, with the records before it.
    A partition whose bytes cannot be fetched is left out (and logged)."""
    found: list[tuple[TopicPartition, Scan]] = []
    for tp in sorted(tps):
        position = await consumer.position(tp)
        try:
            raw, complete = await fetch_raw(
                bootstrap_servers, tp, position, request_timeout_ms=request_timeout_ms
            )
        except (KafkaError, OSError) as exc:
            log.warning(
                "batch.read_failed",
                topic=tp.topic,
                partition=tp.partition,
                offset=position,
                error=type(exc).__name__,
            )
            continue
        result = scan(tp, raw, position, complete=complete)
        if result.bad is not None:
            found.append((tp, result))
    return found


async def rewind_lost(consumer: AIOKafkaConsumer, received: Mapping[TopicPartition, int]) -> None:
    """After ``getmany`` raised: seek every assigned partition whose position moved past what
    the caller received back to that point. The call that raises has already taken the records
    of the partitions it drained before the bad one (their positions moved on) and drops them
    with the exception; without this they would never be seen. ``received`` holds, per
    partition, the offset after the last record handed out; a partition missing from it starts
    at its committed offset (else the beginning)."""
    for tp in consumer.assignment():
        expected = received.get(tp)
        if expected is None:
            committed = await consumer.committed(tp)
            expected = (
                committed if committed is not None else (await consumer.beginning_offsets([tp]))[tp]
            )
        if await consumer.position(tp) > expected:
            consumer.seek(tp, expected)
