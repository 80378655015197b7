"""``POST /outreach/webhooks``: Outreach's webhook deliveries in, durably, or not at all.

In order (docs/reliability.md, W-series):

1. More than 256 KB → 413, before any HMAC (W8); the body is read with that cap.
2. ``Outreach-Webhook-Signature`` must equal the lower-case hex HMAC-SHA256 of the raw body under
   one of the configured secrets (several during a rotation, P30), compared in constant time
   *before* anything parses the body (W1-W3, P27). Otherwise 401 with one fixed body.
3. The body must be JSON (400 otherwise, W9; the body is not logged) and its signed
   ``meta.deliveredAt`` within 300 s of now (W4, W5: an older or future delivery is a replay → 401).
4. Redeliveries are recognised for 24 h by ``Outreach-Webhook-Event-Id`` (else the body's digest):
   the same body again → 200 with no second record (W6); another body under a used id → 409 and a
   security log line (W7).
5. A body without ``data.type``/``data.id`` is acknowledged and counted, not forwarded (W10).
6. The raw delivery goes to ``leadgate.inbound.outreach`` keyed ``<type>:<id>``; 200 only once the
   broker acknowledged it, 503 when it does not within ``ack_timeout_s`` (well inside Outreach's
   5 s, W12, P29). Outreach does not retry an error status: the reconciliation poll recovers it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError

from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import WEBHOOKS
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.webhooks import remember, seen_digest

PATH = "/outreach/webhooks"
MAX_BODY_BYTES = 256 * 1024
REPLAY_WINDOW_S = 300.0
ACK_TIMEOUT_S = 2.5
UNAUTHORIZED = b'{"error":"unauthorized"}'
SIGNATURE = "Outreach-Webhook-Signature"
EVENT_ID = "Outreach-Webhook-Event-Id"

log = get_logger(__name__)


def verify(secrets: list[bytes], body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``body`` under one of ``secrets``; every
    secret is tried (constant time per comparison, no early exit that would tell which)."""
    if not signature or not secrets:
        return False
    provided = signature.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, provided)
    return matched


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _unauthorized(outcome: str) -> web.Response:
    WEBHOOKS.labels(outcome).inc()
    return _json(401, UNAUTHORIZED)


def _delivered_at(body: dict[str, Any]) -> float | None:
    meta = body.get("meta")
    raw = meta.get("deliveredAt") if isinstance(meta, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _record_key(body: dict[str, Any]) -> str | None:
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    kind, ident = data.get("type"), data.get("id")
    if not isinstance(kind, str) or not kind or type(ident) is not int:
        return None
    return f"{kind}:{ident}"


class WebhookReceiver:
    """The endpoint's state: secrets, dedupe store, producer."""

    def __init__(
        self,
        settings: Settings,
        *,
        producer: Any,
        store: StateStore,
        clock: Any = time.time,
        ack_timeout_s: float = ACK_TIMEOUT_S,
    ) -> None:
        self._secrets = [s.get_secret_value().encode() for s in settings.outreach.webhook_secrets]
        self._producer = producer
        self._store = store
        self._topic = settings.kafka.inbound_topic
        self._clock = clock
        self._ack_timeout_s = ack_timeout_s

    def routes(self) -> list[web.RouteDef]:
        """The route table entry (other methods answer 405)."""
        return [web.post(PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One delivery."""
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            WEBHOOKS.labels("too_large").inc()
            return _json(413, b'{"error":"payload_too_large"}')
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            WEBHOOKS.labels("too_large").inc()
            return _json(413, b'{"error":"payload_too_large"}')
        if not verify(self._secrets, raw, request.headers.get(SIGNATURE)):
            return _unauthorized("unauthenticated")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            WEBHOOKS.labels("malformed").inc()
            return _json(400, b'{"error":"malformed_json"}')
        stamp = _delivered_at(body)
        if stamp is not None and abs(self._clock() - stamp) > REPLAY_WINDOW_S:
            return _unauthorized("replayed")
        digest = hashlib.sha256(raw).hexdigest()
        event_id = request.headers.get(EVENT_ID, "")[:200]
        seen_key = f"id:{event_id}" if event_id else f"sha256:{digest}"
        earlier = await seen_digest(self._store, seen_key)
        if earlier is not None:
            return self._redelivered(earlier, digest)
        key = _record_key(body)
        if key is None:
            WEBHOOKS.labels("ignored").inc()
            return _json(200, b'{"status":"ignored"}')
        headers = [("outreach.event_id", event_id.encode()), ("leadgate.source", b"webhook")]
        try:
            await asyncio.wait_for(self._publish(raw, key, headers), self._ack_timeout_s)
        except (TimeoutError, KafkaError):
            WEBHOOKS.labels("unavailable").inc()
            log.exception("webhook.unavailable", topic=self._topic)
            return _json(503, b'{"error":"unavailable"}')
        if not await remember(self._store, seen_key, digest):
            earlier = await seen_digest(self._store, seen_key)
            if earlier is not None and earlier != digest:
                return self._redelivered(earlier, digest)
        WEBHOOKS.labels("accepted").inc()
        return _json(200, b'{"status":"accepted"}')

    async def _publish(self, raw: bytes, key: str, headers: list[tuple[str, bytes]]) -> None:
        """Produce and wait for the broker's acknowledgement (acks=all)."""
        future = await self._producer.send(
            self._topic, value=raw, key=key.encode(), headers=headers
        )
        await future

    def _redelivered(self, earlier: str, digest: str) -> web.Response:
        if earlier == digest:
            WEBHOOKS.labels("duplicate").inc()
            return _json(200, b'{"status":"duplicate"}')
        # A signed body reusing an accepted event id: a replay with a swapped body, or a bug.
        WEBHOOKS.labels("conflict").inc()
        log.warning("webhook.security.event_id_reused", alert=True)
        return _json(409, b'{"error":"event_id_reused"}')
