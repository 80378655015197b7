"""What aiohttp's HTTP parser does with hostile framing, before any handler runs
(docs/reliability.md H21, H22): a 4xx and a closed connection, never a 5xx, nothing produced."""

from __future__ import annotations

import asyncio

import pytest

from tests.plugins.collector import WRITE_KEY, CollectorHandle, basic

BODY = b'{"anonymousId":"a-1","event":"Lead Submitted"}'
AUTH = basic(WRITE_KEY)["Authorization"].encode()


async def exchange(collector: CollectorHandle, raw: bytes) -> bytes:
    """Send raw bytes on a fresh connection; return everything the server answers."""
    host, port = collector.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


def request(headers: bytes, body: bytes = BODY) -> bytes:
    """A POST /v1/track with the given extra header lines."""
    return (
        b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + AUTH + b"\r\n" + headers + b"\r\n" + body
    )


SMUGGLING = [
    pytest.param(
        request(
            b"Content-Length: 46\r\nTransfer-Encoding: chunked\r\n",
            b"2e\r\n" + BODY + b"\r\n0\r\n\r\n",
        ),
        id="CL+TE",
    ),
    pytest.param(
        request(b"Content-Length: 46\r\nContent-Length: 47\r\n"), id="two-content-lengths"
    ),
    pytest.param(
        request(b"\rxTransfer-Encoding: chunked\r\n", b"2e\r\n" + BODY + b"\r\n0\r\n\r\n"),
        id="CR-prefixed-TE",
    ),
    pytest.param(
        request(b"Transfer-Encoding: chunked\r\n", b"2e;ext\nx\r\n" + BODY + b"\r\n0\r\n\r\n"),
        id="LF-in-chunk-extension",
    ),
    pytest.param(request(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n"), id="TE-list"),
    pytest.param(
        request(b"Transfer-Encoding: chunked\r\n", b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
        id="bad-chunk-size",
    ),
]


@pytest.mark.parametrize("raw", SMUGGLING)
async def test_smuggling_probes_are_refused_by_the_parser(
    collector: CollectorHandle, raw: bytes
) -> None:
    """Ambiguous framing gets a 400 from the parser; the handler never runs (H21)."""
    answer = await exchange(collector, raw)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:80]
    assert await collector.records() == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"Cookie: " + b"a" * 100_000 + b"\r\n", id="100KB-cookie"),
        pytest.param(b"X-Long: " + b"b" * 9000 + b"\r\n", id="9KB-header"),
        pytest.param(b"".join(b"X-H%d: v\r\n" % i for i in range(500)), id="500-headers"),
    ],
)
async def test_header_floods_are_refused(collector: CollectorHandle, headers: bytes) -> None:
    """Oversized or too many headers are refused by the parser with a 4xx, never a 5xx (H22)."""
    answer = await exchange(collector, request(b"Content-Length: 46\r\n" + headers))
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    assert answer == b"" or 400 <= status < 500, answer[:80]
    assert await collector.records() == []
