"""Size limits, media types and encodings (docs/reliability.md H3-H6, H11, H13)."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import zlib

import aiohttp
import pytest

from tests.plugins.collector import WRITE_KEY, CollectorHandle, basic

JSON = {"Content-Type": "application/json"}


def track(**extra: object) -> dict[str, object]:
    """A small valid track event."""
    return {"type": "track", "anonymousId": "a-1", "event": "Lead Submitted", **extra}


async def test_oversized_content_length_is_refused_before_reading(
    collector: CollectorHandle,
) -> None:
    """A Content-Length above the cap gets 413 although the body is never sent (H3)."""
    host, port = collector.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    auth = basic(WRITE_KEY)["Authorization"]
    writer.write(
        (
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth}\r\nContent-Length: 600000\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert b" 413 " in status_line
    writer.close()


async def test_chunked_body_over_the_cap_is_refused(collector: CollectorHandle) -> None:
    """A chunked body with no Content-Length is cut off with 413 once it crosses the cap, and
    the connection is closed (H4)."""
    host, port = collector.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    auth = basic(WRITE_KEY)["Authorization"]
    writer.write(
        (
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )
    chunk = b'{"type":"track","anonymousId":"a","event":"' + b"x" * 600 + b'"},'
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    # ~520 KB: just over the 500 KB cap, then wait. (Sending far more would make the server's
    # close reset the connection with our unread bytes in its buffer, and a reset may discard
    # the 413 before we read it: a client that keeps writing after a refusal can miss it.)
    for _ in range(800):
        writer.write(framed)
    await writer.drain()
    status_line = reader.readline()
    assert b" 413 " in await asyncio.wait_for(status_line, 10)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert b"connection: close" in head.lower()
    assert b"payload_too_large" in await asyncio.wait_for(reader.readuntil(b"}}"), 10)
    writer.write(b"0\r\n\r\n")  # end the body: the server must now hang up, not read on
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    assert await collector.records() == []


async def test_gzip_bomb_stops_at_the_decompressed_cap(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A small gzip body that inflates to 1 GiB gets 413 without being inflated whole (H5, P4)."""
    # After a full flush the compressor forgets its window, so one compressed MiB can be
    # repeated: 1024 copies inflate to 1 GiB. (No valid trailer: we must stop long before it.)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = compressor.compress(b" " * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    header, block = block[:10], block[10:]
    bomb = header + block * 1024
    assert len(bomb) < 2_000_000
    headers = {**basic(WRITE_KEY), **JSON, "Content-Encoding": "gzip"}
    # A file-like body: aiohttp warns that 2 MB of raw bytes may hold the loop while it sends.
    body = io.BytesIO(bomb)
    async with http.post(f"{collector.url}/v1/batch", data=body, headers=headers) as r:
        assert r.status == 413
    assert await collector.records() == []


async def test_gzip_and_deflate_bodies_are_accepted(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """Honest gzip and deflate bodies are decompressed and accepted."""
    for encoding, data in (
        ("gzip", gzip.compress(json.dumps(track(messageId="gz")).encode())),
        ("deflate", zlib.compress(json.dumps(track(messageId="df")).encode())),
    ):
        headers = {**basic(WRITE_KEY), **JSON, "Content-Encoding": encoding}
        async with http.post(f"{collector.url}/v1/track", data=data, headers=headers) as r:
            assert r.status == 200, await r.text()
    assert sorted(rec.value["messageId"] for rec in await collector.records()) == ["df", "gz"]


async def test_broken_gzip_is_refused(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A body that claims gzip but is not gets a 4xx, never a 5xx."""
    headers = {**basic(WRITE_KEY), **JSON, "Content-Encoding": "gzip"}
    async with http.post(
        f"{collector.url}/v1/track", data=b"not gzip at all", headers=headers
    ) as r:
        assert 400 <= r.status < 500


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
async def test_unsupported_encodings_are_refused(
    collector: CollectorHandle, http: aiohttp.ClientSession, encoding: str
) -> None:
    """Content codings the collector does not read get a 4xx (415 where aiohttp lets the
    handler answer; its parser may refuse first with 400) and nothing is produced (H5)."""
    headers = {**basic(WRITE_KEY), **JSON, "Content-Encoding": encoding}
    async with http.post(f"{collector.url}/v1/track", data=b"\x00\x01\x02", headers=headers) as r:
        assert r.status in (400, 415)
    assert await collector.records() == []


@pytest.mark.parametrize(
    "content_type", ["application/xml", "multipart/form-data; boundary=x", "text/html"]
)
async def test_unsupported_media_types_get_415(
    collector: CollectorHandle, http: aiohttp.ClientSession, content_type: str
) -> None:
    """Only JSON and text/plain bodies are read; anything else is 415 (H6)."""
    headers = {**basic(WRITE_KEY), "Content-Type": content_type}
    async with http.post(
        f"{collector.url}/v1/track", data=json.dumps(track()), headers=headers
    ) as r:
        assert r.status == 415
        assert (await r.json())["error"]["code"] == "unsupported_media_type"


async def test_text_plain_and_charset_are_accepted(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """text/plain (sendBeacon) and application/json with a charset parameter are accepted (H6)."""
    for content_type in ("text/plain;charset=UTF-8", "application/json; charset=utf-8"):
        headers = {**basic(WRITE_KEY), "Content-Type": content_type}
        async with http.post(
            f"{collector.url}/v1/track", data=json.dumps(track()), headers=headers
        ) as r:
            assert r.status == 200


async def test_batch_count_limits(collector: CollectorHandle, http: aiohttp.ClientSession) -> None:
    """An empty batch and a batch over 500 events are refused whole (H11); 500 is accepted."""
    cases = [([], 400, "batch_empty"), ([track()] * 501, 400, "batch_too_large")]
    for batch, status, code in cases:
        async with http.post(
            f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
        ) as r:
            assert r.status == status
            assert (await r.json())["error"]["code"] == code
    assert await collector.records() == []
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": [track()] * 500}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
        assert (await r.json())["accepted"] == 500


async def test_single_event_body_boundary(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A single-event body of exactly the cap is read, one byte more is 413 (P5, H13)."""
    limit = collector.settings.collector.max_event_bytes

    def body_of(size: int) -> bytes:
        raw = json.dumps(track(properties={"pad": ""})).encode()
        return raw.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(raw)) + b'"')

    headers = {**basic(WRITE_KEY), **JSON}
    async with http.post(
        f"{collector.url}/v1/track", data=body_of(limit + 1), headers=headers
    ) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "payload_too_large"
    # Exactly at the cap the body is read; the record (with receivedAt and messageId added)
    # is then over the per-event limit, which is answered as such, not as a body overflow.
    async with http.post(f"{collector.url}/v1/track", data=body_of(limit), headers=headers) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "event_too_large"
    async with http.post(
        f"{collector.url}/v1/track", data=body_of(limit - 400), headers=headers
    ) as r:
        assert r.status == 200


async def test_batch_body_boundary(collector: CollectorHandle, http: aiohttp.ClientSession) -> None:
    """A batch body of exactly 500 KB is accepted and one byte more is 413 (P5)."""
    limit = collector.settings.collector.max_batch_bytes

    def body_of(size: int) -> bytes:
        events = [track(properties={"pad": "x" * 20_000}) for _ in range(20)]
        raw = json.dumps({"batch": events}).encode()
        return raw + b" " * (size - len(raw))  # trailing whitespace is valid JSON

    headers = {**basic(WRITE_KEY), **JSON}
    async with http.post(
        f"{collector.url}/v1/batch", data=body_of(limit + 1), headers=headers
    ) as r:
        assert r.status == 413
    async with http.post(f"{collector.url}/v1/batch", data=body_of(limit), headers=headers) as r:
        assert r.status == 200
        assert (await r.json())["accepted"] == 20


async def test_oversized_event_in_batch_is_refused_alone(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A 40 KB event inside a batch is refused by index; its neighbours are produced (H13)."""
    batch = [
        track(messageId="ok-1"),
        track(messageId="big", properties={"pad": "x" * 40_000}),
        track(messageId="ok-2"),
    ]
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
        body = await r.json()
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "event_too_large")]
    assert sorted(rec.value["messageId"] for rec in await collector.records()) == ["ok-1", "ok-2"]
