"""The reconciliation poller: what webhooks lost, found again (docs/reliability.md P31).

Outreach does not retry a delivery that got an error status, and deactivates a webhook that fails
for days (docs/outreach-api.md#webhooks), so every ``outreach.reconcile_interval_s`` (default 900 s)
a pass reads the prospects and accounts changed since the persisted cursor
(``changefeed.changed_since``, through the client's rate budget) and feeds each to
``leadgate.inbound.outreach`` as a ``poll`` change, where the inbound worker folds it into the
mirror like a webhook (a change the mirror already holds changes nothing). The cursor (collection
``cursor``, ``reconcile.<resource>``) moves to the newest ``updatedAt`` read only after every record
was acknowledged by the broker. Each pass also checks leadgate's webhook registration (active, our
URL, our secret) and repairs it when ``outreach.webhook_url`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from leadgate.domain.mirror import MalformedChange, from_resource
from leadgate.errors import LeadgateError
from leadgate.observability.logging import get_logger
from leadgate.outreach import webhooks
from leadgate.outreach.changefeed import changed_since
from leadgate.outreach.client import OutreachClient
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.mirror import CURSORS, get_cursor, put_cursor

log = get_logger(__name__)

EPOCH = "1970-01-01T00:00:00.000Z"
LEASE = "reconcile.lease"
PLURALS = {"prospect": "prospects", "account": "accounts"}


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one reconciliation pass read and did."""

    records: int
    registration: str | None  # created | repaired | unchanged | None (no webhook_url)


class Reconciler:
    """Runs a pass at start and then every ``reconcile_interval_s``."""

    def __init__(
        self,
        settings: Settings,
        client: OutreachClient,
        store: StateStore,
        producer: AIOKafkaProducer,
    ) -> None:
        self._settings = settings
        self._client = client
        self._store = store
        self._producer = producer
        self.passes = 0
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Pass, sleep, repeat until ``stop``; a failed pass is logged and retried next time.

        With several inbound processes (``--processes N``, or one per host) only the one that
        claims the interval's lease polls; a ``wake`` forces a pass regardless."""
        forced = False
        while not stop.is_set():
            try:
                if forced or await self._claim():
                    await self.pass_once()
            except (LeadgateError, OSError) as exc:
                log.warning("reconcile.failed", error=type(exc).__name__, message=str(exc)[:200])
            self.wake.clear()
            waiters = {asyncio.create_task(stop.wait()), asyncio.create_task(self.wake.wait())}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    waiters,
                    timeout=self._settings.outreach.reconcile_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            for waiter in waiters:
                waiter.cancel()
            forced = self.wake.is_set()

    async def _claim(self) -> bool:
        """This interval's pass, if no other process took it (a lease in ``cursor``)."""
        interval = self._settings.outreach.reconcile_interval_s
        return await self._store.put_doc_if_absent(
            CURSORS, LEASE, {"at": time.time()}, ttl_s=interval * 0.9
        )

    async def pass_once(self) -> PassResult:
        """One pass over prospects and accounts, then the webhook check."""
        total = 0
        for resource, plural in PLURALS.items():
            total += await self._poll(resource, plural)
        registration = None
        if self._settings.outreach.webhook_url and self._settings.outreach.webhook_secrets:
            registration = (await webhooks.ensure(self._client)).action
            if registration == "repaired":
                # Deactivated or changed by someone: deliveries may have been lost meanwhile.
                log.warning("reconcile.webhook_repaired")
            elif registration == "created":
                log.info("reconcile.webhook_created")
        self.passes += 1
        log.info("reconcile.pass", records=total, webhook=registration)
        return PassResult(total, registration)

    async def _poll(self, resource: str, plural: str) -> int:
        name = f"reconcile.{resource}"
        cursor_doc = await get_cursor(self._store, name)
        since = str(cursor_doc["updatedAt"]) if cursor_doc else EPOCH
        newest = since
        count = 0
        topic = self._settings.kafka.inbound_topic
        async for page in changed_since(self._client, plural, since):
            acks: list[Any] = []
            for record in page:
                try:
                    change = from_resource(record, "poll")
                except MalformedChange:
                    continue
                acks.append(
                    await self._producer.send(
                        topic,
                        orjson.dumps(change.to_json()),
                        key=change.key.encode(),
                        headers=[("leadgate.source", b"poll")],
                    )
                )
                if change.updated_at and change.updated_at > newest:
                    newest = change.updated_at
            await asyncio.gather(*acks)
            count += len(acks)
            # Acknowledged: the next pass (even after a crash) starts from here.
            await put_cursor(self._store, name, {"updatedAt": newest})
        return count
