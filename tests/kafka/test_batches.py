"""Walking a fetch response batch by batch: the records before an undecodable batch, and that
batch's offsets, raw bytes and why."""

from __future__ import annotations

import struct

import aiokafka.codec
import pytest
from aiokafka import TopicPartition
from aiokafka.record._crc32c import crc as crc32c

from leadgate.kafka.batches import Detail, scan
from tests.plugins.corrupt import CODEC_LZ4, build_batch, crc_mismatch, garbage_lz4

TP = TopicPartition("t.events", 2)


def _response() -> tuple[bytes, bytes]:
    """Good batch (offsets 0-2), bad batch with a flipped byte (3-4), good batch (5-6)."""
    bad = bytes(crc_mismatch(build_batch([b"x", b"y"], base_offset=3)))
    raw = (
        bytes(build_batch([b"a", b"b", b"c"], base_offset=0))
        + bad
        + bytes(build_batch([b"d", b"e"], base_offset=5))
    )
    return raw, bad


def test_records_before_a_crc_mismatch_and_the_batch_itself() -> None:
    """The records before the bad batch come back as consumer records; the bad batch comes back
    with its offset range, its exact bytes and ``crc_mismatch``."""
    raw, bad_bytes = _response()
    result = scan(TP, raw, 0, complete=True)
    assert [(r.offset, r.value, r.headers) for r in result.records] == [
        (0, b"a", (("h", b"1"),)),
        (1, b"b", (("h", b"1"),)),
        (2, b"c", (("h", b"1"),)),
    ]
    assert result.records[0].topic == TP.topic
    assert result.records[0].partition == TP.partition
    assert result.bad is not None
    assert (result.bad.first, result.bad.last) == (3, 4)
    assert result.bad.raw == bad_bytes
    assert result.bad.detail == Detail.CRC_MISMATCH


def test_a_position_inside_a_good_batch_skips_the_records_before_it() -> None:
    """Fetching from offset 1 returns the whole first batch; only offsets 1 and 2 are kept."""
    raw, _ = _response()
    result = scan(TP, raw, 1, complete=True)
    assert [r.offset for r in result.records] == [1, 2]


def test_a_response_that_decodes_has_no_bad_batch() -> None:
    """Good batches only (the last one cut short by the response size) give their records."""
    good = bytes(build_batch([b"a"], base_offset=0)) + bytes(build_batch([b"b"], base_offset=1))
    result = scan(TP, good + good[:20], 0, complete=False)
    assert [r.offset for r in result.records] == [0, 1]
    assert result.bad is None


def test_garbage_payload_and_missing_codec_library_are_named() -> None:
    """A payload that is not lz4 is ``corrupt``; an lz4 batch without the codec library is
    ``unsupported_codec`` (what aiokafka raises without cramjam)."""
    garbage = scan(TP, bytes(garbage_lz4(build_batch([b"a", b"b"]))), 0, complete=True)
    assert garbage.bad is not None
    assert garbage.bad.detail == Detail.CORRUPT
    lz4 = bytes(build_batch([b"z" * 200] * 5, codec=CODEC_LZ4))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiokafka.codec, "cramjam", None)
        missing = scan(TP, lz4, 0, complete=True)
    assert missing.bad is not None
    assert missing.bad.detail == Detail.UNSUPPORTED_CODEC
    assert (missing.bad.first, missing.bad.last) == (0, 4)
    assert "lz4" in missing.bad.error
    assert [r.value for r in scan(TP, lz4, 0, complete=True).records] == [b"z" * 200] * 5


def test_a_frame_longer_than_a_complete_response_is_bad_at_the_position() -> None:
    """A first batch whose length runs past everything the broker had is corrupt, covering the
    position alone (its real end is unknown)."""
    raw = bytes(build_batch([b"a"], base_offset=7))
    result = scan(TP, raw[:-5], 7, complete=True)
    assert result.bad is not None
    assert (result.bad.first, result.bad.last, result.bad.detail) == (7, 7, Detail.CORRUPT)


def test_a_codec_id_kafka_does_not_define_is_unsupported_codec() -> None:
    """A batch claiming codec 5 (none exists; the embedded broker refuses to store one, a disk
    or another broker may not) with a matching CRC is ``unsupported_codec``, covering its
    whole offset range."""
    batch = build_batch([b"a", b"b", b"c"], base_offset=10)
    struct.pack_into(">h", batch, 21, 5)
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    result = scan(TP, bytes(batch), 10, complete=True)
    assert result.bad is not None
    assert (result.bad.first, result.bad.last) == (10, 12)
    assert result.bad.detail == Detail.UNSUPPORTED_CODEC
    assert "Unknown compression codec" in result.bad.error
