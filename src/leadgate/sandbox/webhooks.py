"""Webhook delivery as Outreach does it (docs/outreach-api.md#webhooks): for every change, a signed
POST to each active webhook whose ``resource`` and ``action`` match (``*`` matches all).

The body is Outreach's delivery format: ``{"data": {type, id, attributes, relationships},
"meta": {"deliveredAt", "eventName", "jobId"}}`` with only the created/changed attributes and the
webhook-style flat relationships ``{"owner": {"type": "owner", "id": 7}}`` (no ``data`` wrapper);
``payloadVersion: 2`` adds ``beforeUpdate``. Headers: ``Content-Type: application/vnd.api+json``,
``User-Agent: Ruby``, ``Outreach-Org-Id``, ``Outreach-Webhook-Id``, ``Outreach-Webhook-Event-Id``
and, when the webhook has a secret, ``Outreach-Webhook-Signature`` = lower-case hex HMAC-SHA256 of
the raw body keyed with the secret.

Delivery guarantees are Outreach's (§6.4): 5 s to answer; an error status is *not* retried (it
counts as an acknowledgement); a connection that cannot be made or is dropped is retried 3 times,
``webhook_retry_delay_s`` (1 s) apart; redirects are not followed. Fault injection
(``{"webhooks": {"drop_share": 0.05, "delay_share": 0.5, "delay_ms": 2000}}`` on
``/__sandbox/faults``) loses or holds back a share of deliveries. ``GET /__sandbox/deliveries``
lists what happened to each one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from leadgate.sandbox.changes import Change
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.faults import FaultPlan
from leadgate.sandbox.store import Record, Store, iso_ms

JSONAPI = "application/vnd.api+json"
TIMEOUT_S = 5.0
RETRIES = 3
# Outreach's webhooks are not themselves a webhook resource.
_SILENT = frozenset({"webhook"})


def sign(secret: str, body: bytes) -> str:
    """``Outreach-Webhook-Signature``: lower-case hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivered_at(epoch: float) -> str:
    """``meta.deliveredAt`` in the offset form deliveries use: ``2019-08-14T10:44:29.900+00:00``."""
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+00:00"


def payload(change: Change, payload_version: int, now: float) -> dict[str, Any]:
    """The delivery document for one change."""
    data: dict[str, Any] = {
        "type": change.kind,
        "id": change.id,
        "attributes": change.attributes,
        "relationships": {n: {"type": n, "id": i} for n, i in change.relationships.items()},
    }
    body: dict[str, Any] = {
        "data": data,
        "meta": {
            "deliveredAt": delivered_at(now),
            "eventName": change.event_name,
            "jobId": str(uuid.uuid4()),
        },
    }
    if payload_version >= 2 and change.action == "updated":
        body["beforeUpdate"] = change.before
    return body


def _matches(hook: Record, change: Change) -> bool:
    attributes = hook.attributes
    if attributes.get("active") is False:
        return False
    resource = attributes.get("resource") or "*"
    action = attributes.get("action") or "*"
    return resource in ("*", change.kind) and action in ("*", change.action)


class WebhookDeliverer:
    """Listens to a sandbox's changes and delivers them; one task per delivery."""

    def __init__(self, store: Store, config: SandboxConfig, faults: FaultPlan) -> None:
        self._store = store
        self._config = config
        self._faults = faults
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.log: deque[dict[str, Any]] = deque(maxlen=config.max_logged_requests)
        self.rand = random.random

    @property
    def pending(self) -> int:
        """Deliveries not finished yet (queued, delayed, in flight or between retries)."""
        return len(self._tasks)

    def on_change(self, change: Change) -> None:
        """The change hook: schedule one delivery per matching webhook."""
        if change.kind in _SILENT:
            return
        hooks = [h for h in self._store.all("webhooks") if _matches(h, change)]
        if not hooks:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no server running (a store used outside the app): nobody to deliver to
        for hook in hooks:
            task = loop.create_task(self._deliver(hook, change))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook: Record, change: Change) -> None:
        entry: dict[str, Any] = {
            "webhook": hook.id,
            "event": change.event_name,
            "resource_id": change.id,
            "event_id": str(uuid.uuid4()),
            "status": None,
            "attempts": 0,
            "outcome": "pending",
            "time": iso_ms(time.time()),
        }
        self.log.append(entry)
        plan = self._faults.webhooks
        if plan.drop_share and self.rand() < plan.drop_share:
            entry["outcome"] = "dropped"
            return
        if plan.delay_ms and self.rand() < plan.delay_share:
            await asyncio.sleep(plan.delay_ms / 1000)
        attributes = hook.attributes
        version = int(attributes.get("payloadVersion") or 1)
        body = orjson.dumps(payload(change, version, time.time()))
        headers = {
            "Content-Type": JSONAPI,
            "User-Agent": "Ruby",
            "Outreach-Org-Id": self._config.org_id,
            "Outreach-Webhook-Id": str(hook.id),
            "Outreach-Webhook-Event-Id": entry["event_id"],
        }
        secret = attributes.get("secret")
        if secret:
            headers["Outreach-Webhook-Signature"] = sign(str(secret), body)
        await self._post(str(attributes.get("url")), body, headers, entry)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], entry: dict[str, Any]
    ) -> None:
        session = self._client()
        for attempt in range(1 + RETRIES):
            entry["attempts"] = attempt + 1
            try:
                async with session.post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    await response.read()
                    entry["status"] = response.status
                    entry["outcome"] = "delivered" if response.status < 300 else "error_status"
                    return  # an error status is an answer: Outreach does not retry it
            except TimeoutError:
                entry["outcome"] = "timeout"
                return
            except (aiohttp.ClientConnectionError, OSError):
                entry["outcome"] = "unreachable"
                if attempt < RETRIES:
                    await asyncio.sleep(self._config.webhook_retry_delay_s)
            except (aiohttp.ClientError, ValueError):
                entry["outcome"] = "unreachable"  # a URL aiohttp cannot even try
                return

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        """Cancel deliveries still pending and close the HTTP session."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
