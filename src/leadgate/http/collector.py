"""The collector: Segment's Tracking API over aiohttp (docs/architecture.md).

One request goes through, in order: the per-IP rate limit, the media type, a write key from the
headers (checked before the body is read), the capped body, strict JSON, a write key from the
body, the key's origin allowlist, the per-key rate limit, per-event checks, and the produce. Any
step can refuse with a :class:`Rejection`; a batch refuses single events by index and produces the
rest. Nothing is produced for a refused request, and 200 means Kafka acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from leadgate.domain.times import iso_utc
from leadgate.http.body import check_content_type, read_capped
from leadgate.http.cors import (
    cors_headers,
    origin_allowed,
    preflight_ok,
    preflight_response,
    refused_origin,
)
from leadgate.http.events import Prepared, prepare_event
from leadgate.http.ratelimit import RateLimiter, client_ip, parse_networks, retry_after_seconds
from leadgate.http.rejection import RejectCode, Rejection, message_of
from leadgate.http.sink import EventSink, Unavailable
from leadgate.http.strictjson import loads_strict
from leadgate.http.writekeys import (
    Source,
    WriteKeyRing,
    anonymous_id_from_headers,
    key_from_headers,
)
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import EVENTS
from leadgate.settings import CollectorSettings

log = get_logger("leadgate.collector")

# The Segment endpoints and Datafly's short aliases; the path decides the event type.
SINGLE_ENDPOINTS: dict[str, str] = {
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/i": "identify",
    "/v1/t": "track",
    "/v1/p": "page",
}
BATCH_ENDPOINT = "/v1/batch"


def count(code: RejectCode | None, events: int = 1) -> None:
    """Count accepted events (``code`` None) or a refusal in ``leadgate_events``."""
    if code is None:
        EVENTS.labels(stage="collector", outcome="accepted", reason="").inc(events)
    else:
        EVENTS.labels(stage="collector", outcome="rejected", reason=code.value).inc(events)


def _fill_anonymous_id(event: object, anonymous_id: str | None) -> None:
    """An event without an anonymousId takes the ``AnonymousId`` header's (RudderStack)."""
    if anonymous_id and isinstance(event, dict) and not event.get("anonymousId"):
        event["anonymousId"] = anonymous_id


def utc_now_iso() -> str:
    """The server's receive time, ISO 8601 in UTC with milliseconds."""
    return iso_utc(time.time())


class Collector:
    """The collector's handlers, bound to one configuration and one event sink."""

    def __init__(
        self,
        settings: CollectorSettings,
        sink: EventSink,
        *,
        clock: Callable[[], float] = time.monotonic,
        now_iso: Callable[[], str] = utc_now_iso,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self._keys = WriteKeyRing(settings.write_keys)
        self._trusted = parse_networks(settings.trusted_proxies)
        self._per_ip = RateLimiter(settings.per_ip_rate, clock=clock)
        self._per_key = RateLimiter(settings.per_key_rate, clock=clock)
        self._now_iso = now_iso

    def routes(self) -> list[web.RouteDef]:
        """Every collector route, preflights included."""
        routes = [web.post(path, self.handle) for path in (*SINGLE_ENDPOINTS, BATCH_ENDPOINT)]
        routes += [
            web.options(path, self.preflight) for path in (*SINGLE_ENDPOINTS, BATCH_ENDPOINT)
        ]
        return routes

    async def preflight(self, request: web.Request) -> web.Response:
        """Answer a CORS preflight: granted only to a known origin asking for what we serve."""
        origin = request.headers.get("Origin")
        known = origin is not None and origin_allowed(origin, self._keys.all_origins, request)
        if known and preflight_ok(request):
            assert origin is not None
            return preflight_response(origin)
        if origin is not None and not known:
            return refused_origin(origin)
        response = web.Response(status=403)
        response.headers.update(cors_headers(origin, allowed=False))
        return response

    async def handle(self, request: web.Request) -> web.Response:
        """Accept one event (single endpoints) or a batch, and say what happened."""
        origin = request.headers.get("Origin")
        too_large = False
        try:
            response = await self._accept(request, origin)
        except Rejection as rejection:
            response = rejection.to_response()
            if rejection.code is RejectCode.ORIGIN_NOT_ALLOWED and origin is not None:
                response = refused_origin(origin)
            too_large = rejection.status == 413
            if too_large:
                response.force_close()  # do not keep reading an oversized body on this socket
            if rejection.code is RejectCode.ORIGIN_NOT_ALLOWED:
                origin = None
            count(rejection.code)
            log.info("collector_rejected", code=rejection.code.value, path=request.path)
        allowed = origin is not None and origin_allowed(origin, self._keys.all_origins, request)
        response.headers.update(cors_headers(origin, allowed))
        if too_large and "Content-Encoding" in request.headers and not request.content.is_eof():
            # aiohttp would linger and read (so inflate) the rest of a compressed body: a
            # 1 MB bomb costs a second of CPU. Send the 413 and drop the connection instead.
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response

    async def _accept(self, request: web.Request, origin: str | None) -> web.Response:
        self._limit(self._per_ip, client_ip(request, self._trusted))
        check_content_type(request)
        header_key = key_from_headers(request.headers)
        source = None if header_key is None else self._authenticate(header_key)
        batch = request.path == BATCH_ENDPOINT
        cap = self.settings.max_batch_bytes if batch else self.settings.max_event_bytes
        payload = loads_strict(await read_capped(request, cap))
        received_at = self._now_iso()  # one receive time for every event of the request
        if not isinstance(payload, dict):
            raise Rejection(RejectCode.INVALID_SHAPE)
        body_key = payload.pop("writeKey", None)
        if source is None:
            source = self._authenticate(self._fallback_key(request, body_key))
        if origin is not None and not origin_allowed(origin, source.origins, request):
            raise Rejection(RejectCode.ORIGIN_NOT_ALLOWED)
        self._limit(self._per_key, source.name)
        anonymous_id = anonymous_id_from_headers(request.headers)
        if batch:
            events = payload.get("batch")
            for event in events if isinstance(events, list) else ():
                _fill_anonymous_id(event, anonymous_id)
            return await self._accept_batch(payload, source, received_at)
        _fill_anonymous_id(payload, anonymous_id)
        prepared = self._prepare(payload, SINGLE_ENDPOINTS[request.path], source, received_at)
        await self._publish([prepared])
        count(None)
        response = web.json_response({"success": True})
        response.headers["X-Leadgate-Message-Id"] = prepared.message_id
        return response

    async def _accept_batch(
        self, payload: dict[str, Any], source: Source, received_at: str
    ) -> web.Response:
        events = payload.get("batch")
        if not isinstance(events, list):
            raise Rejection(RejectCode.INVALID_SHAPE)
        if not events:
            raise Rejection(RejectCode.BATCH_EMPTY)
        if len(events) > self.settings.max_batch_events:
            raise Rejection(RejectCode.BATCH_TOO_LARGE)
        accepted: list[Prepared] = []
        errors: list[dict[str, object]] = []
        for index, event in enumerate(events):
            try:
                accepted.append(self._prepare(event, None, source, received_at))
            except Rejection as rejection:
                code = rejection.code
                errors.append({"index": index, "code": code.value, "message": message_of(code)})
        if accepted:
            await self._publish(accepted)
            count(None, len(accepted))
        for error in errors:
            count(RejectCode(str(error["code"])))
        body: dict[str, object] = {"success": True, "accepted": len(accepted)}
        if errors:
            body["errors"] = errors
        return web.json_response(body)

    def _prepare(
        self, event: object, kind: str | None, source: Source, received_at: str
    ) -> Prepared:
        return prepare_event(
            event,
            kind=kind,
            source=source.name,
            received_at=received_at,
            settings=self.settings,
        )

    def _fallback_key(self, request: web.Request, body_key: object) -> str | None:
        if isinstance(body_key, str):
            return body_key
        if body_key is None and self.settings.allow_query_write_key:
            return request.query.get("writeKey")
        return None

    def _authenticate(self, key: str | None) -> Source:
        source = self._keys.lookup(key)
        if source is None:
            raise Rejection(RejectCode.UNAUTHORIZED)
        return source

    @staticmethod
    def _limit(limiter: RateLimiter, key: str) -> None:
        wait = limiter.acquire(key)
        if wait > 0:
            raise Rejection(RejectCode.RATE_LIMITED, retry_after_s=retry_after_seconds(wait))

    async def _publish(self, records: list[Prepared]) -> None:
        try:
            await self.sink.publish(records)
        except Unavailable as exc:
            log.warning("collector_unavailable", cause=str(exc), events=len(records))
            raise Rejection(
                RejectCode.UNAVAILABLE, retry_after_s=self.settings.unavailable_retry_after_s
            ) from None
