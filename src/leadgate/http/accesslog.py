"""Access log lines without query strings: a write key put in a URL must not reach the logs
(docs/reliability.md H18). The client is the TCP peer, never a forwarded-for header (H25)."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from leadgate.observability.logging import get_logger

_log = get_logger("leadgate.http.access")


class AccessLogger(AbstractAccessLogger):
    """One structured line per request: method, path (no query), status, duration, peer."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        _log.info(
            "http_request",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(time * 1000, 2),
            peer=request.remote,
        )
