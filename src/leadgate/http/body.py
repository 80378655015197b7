"""Reading a request body within a cap, before anything is buffered beyond it.

aiohttp decompresses ``gzip``/``deflate`` request bodies as they stream in, in bounded steps, so
the cap below applies to the *decompressed* bytes: a 10 KB gzip bomb stops at the cap, it is never
inflated whole (docs/reliability.md H3-H6). ``Content-Length`` (the compressed size) is checked
first, so an honest oversized request is refused without reading a byte.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from leadgate.http.rejection import RejectCode, Rejection

# application/json for SDKs and curl; text/plain for sendBeacon and for fetch() calls that avoid
# a CORS preflight (the write key then travels in the body). A missing Content-Type is tolerated.
ACCEPTED_TYPES = frozenset({"application/json", "text/plain"})
ACCEPTED_ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


def check_content_type(request: web.Request) -> None:
    """Refuse media types and content codings the collector does not read (415)."""
    if "Content-Type" in request.headers and request.content_type not in ACCEPTED_TYPES:
        raise Rejection(RejectCode.UNSUPPORTED_MEDIA_TYPE)
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ACCEPTED_ENCODINGS:
        raise Rejection(RejectCode.UNSUPPORTED_ENCODING)


async def read_capped(request: web.Request, cap: int) -> bytes:
    """The (decompressed) body, or 413 as soon as it would exceed ``cap`` bytes."""
    if request.content_length is not None and request.content_length > cap:
        raise Rejection(RejectCode.PAYLOAD_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise Rejection(RejectCode.PAYLOAD_TOO_LARGE)
            chunks.append(chunk)
    except (RequestPayloadError, HttpProcessingError):
        # aiohttp's ContentEncodingError, raised through the payload stream: the bytes are not
        # the gzip/deflate stream they claim to be (or the chunked framing broke).
        raise Rejection(RejectCode.INVALID_ENCODING) from None
    return b"".join(chunks)
