"""The inbound worker (consumer group ``leadgate-inbound-outreach``): Outreach's changes into the
mirror, and on to ``leadgate.outreach.changes``.

Records on ``leadgate.inbound.outreach`` are keyed ``<type>:<id>``, so one record's changes stay
in order on one partition. A record is either a raw webhook delivery (header ``leadgate.source``
= ``webhook``, as the endpoint received it) or a normalised change from the reconciliation poll or
an export (``OutreachChange.to_json``). Per batch: decode every record, fold the prospect and
account changes into the mirror (one read and one write per collection), publish each change that
altered the mirror, normalised, to ``leadgate.outreach.changes``, and mark the batch finished
once every produce was acknowledged.

Bad input never stops the worker: a record that is not JSON or not a change leadgate can read
is dead-lettered as ``invalid_outreach_change`` (its detail in the log, no values); a change to
another resource (sequence, mailing, ...) or an unknown action is counted and skipped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from leadgate.domain.mirror import MalformedChange, OutreachChange, from_delivery
from leadgate.domain.reasons import DeadLetterReason
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import MIRROR_CHANGES
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.mirror import Mirror
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from leadgate.workers.reconcile import Reconciler

log = get_logger(__name__)

SOURCE_HEADER = "leadgate.source"
EVENT_HEADER = "outreach.event_id"
MIRRORED = frozenset({"prospect", "account"})
ACTIONS = frozenset({"created", "updated", "destroyed", "snapshot"})
POLL_TIMEOUT_MS = 10


def _header(record: Record, name: str) -> str:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return ""


def decode(record: Record) -> OutreachChange:
    """The change a record holds; ``MalformedChange`` when it holds none."""
    if not record.value:
        raise MalformedChange("empty")
    try:
        doc = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        raise MalformedChange("not_json") from None
    if (
        _header(record, SOURCE_HEADER) in ("", "webhook")
        and isinstance(doc, dict)
        and "meta" in doc
    ):
        return from_delivery(doc, _header(record, EVENT_HEADER) or None)
    return OutreachChange.from_json(doc)


class InboundWorker:
    """Keeps the mirror true from webhook deliveries and reconciliation polls."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterWriter,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._dead_letters = dead_letters
        self.mirror = Mirror(store)
        kafka = settings.kafka
        self.loop = ConsumeLoop(
            kafka,
            topic=kafka.inbound_topic,
            group=kafka.inbound_group,
            handler=self.handle,
            poll_timeout_ms=POLL_TIMEOUT_MS,
        )
        self.applied = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain and commit."""
        await self.loop.run(stop)

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        """One batch of one partition."""
        changes: list[OutreachChange] = []
        acks: list[Any] = []
        webhook_seen = False
        for record in records:
            try:
                change = decode(record)
            except MalformedChange as bad:
                log.warning(
                    "inbound.dead_lettered",
                    reason=str(DeadLetterReason.INVALID_OUTREACH_CHANGE),
                    detail=bad.reason,
                    partition=tp.partition,
                    offset=record.offset,
                )
                MIRROR_CHANGES.labels("unknown", "dead_lettered").inc()
                acks.append(
                    await self._dead_letters.send(
                        record,
                        stage="inbound",
                        reason=str(DeadLetterReason.INVALID_OUTREACH_CHANGE),
                        status=None,
                        attempts=1,
                        first_failure=time.time(),
                    )
                )
                continue
            webhook_seen |= change.source == "webhook"
            if change.resource not in MIRRORED or change.action not in ACTIONS:
                MIRROR_CHANGES.labels(change.source, "ignored_resource").inc()
                continue
            changes.append(change)
        applied = await self.mirror.apply(changes)
        hits = {id(item.change) for item in applied}
        for change in changes:
            MIRROR_CHANGES.labels(
                change.source, "applied" if id(change) in hits else "unchanged"
            ).inc()
        topic = self._settings.kafka.changes_topic
        for item in applied:
            value = {**item.change.to_json(), "changed": item.fields}
            acks.append(
                await self._producer.send(topic, orjson.dumps(value), key=item.change.key.encode())
            )
        if webhook_seen:
            await self.mirror.mark_webhook()
        await asyncio.gather(*acks)
        self.applied += len(applied)
        return BatchResult(done=tuple(r.offset for r in records))


class InboundRole:
    """The ``inbound`` role: the inbound worker and the reconciliation poller, side by side."""

    def __init__(self, worker: InboundWorker, reconciler: Reconciler | None) -> None:
        self.worker = worker
        self.reconciler = reconciler
        self.loop = worker.loop

    async def run(self, stop: asyncio.Event) -> None:
        """Both until ``stop``; the poller's failures never stop the worker."""
        if self.reconciler is None:
            await self.worker.run(stop)
            return
        poller = asyncio.create_task(self.reconciler.run(stop))
        try:
            await self.worker.run(stop)
        finally:
            if not stop.is_set():
                poller.cancel()  # the worker crashed: the role stops as a whole
            await asyncio.gather(poller, return_exceptions=True)
