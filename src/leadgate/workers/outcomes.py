"""Outcomes of CRM records on ``leadgate.outcomes``: one per finished source record.

The delivery side calls :class:`OutcomePublisher` when a record's result is final (delivered,
unchanged, matched an existing prospect, dead-lettered) and the processor when it refuses a
record as ``invalid_record``. Only intents that carry a ``source`` (records from a CRM: a person
synced by an identify rule, an opportunity) have an outcome; website leads have no source record
to write back to. Each outcome is keyed by ``<system>:<kind>:<id>`` and awaited until the broker
acknowledges it, before the record's offset may be committed: a crash in between redelivers the
record, which then ends as ``unchanged`` with the same Outreach id and URL (at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from leadgate.domain.lead import LeadIntent
from leadgate.domain.opportunity import SourceRef
from leadgate.domain.record_outcome import OutcomeStatus, RecordOutcome, advice, outcome_id, web_url
from leadgate.domain.times import iso_utc
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import OUTCOME_LATENCY, OUTCOMES
from leadgate.settings import Settings

log = get_logger(__name__)


def failure_message(reason: str, detail: str | None) -> str:
    """What the person who sees the CRM's error flag reads: what to do, then what happened.

    ``detail`` must already be free of PII (the error tree's messages are sanitised)."""
    text = advice(reason)
    return f"{text} Detail: {detail}" if detail else text


class OutcomePublisher:
    """Produces outcomes; shared by the delivery worker, ``leadgate send`` and the processor."""

    def __init__(
        self, producer: Any, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._producer = producer
        self._topic = settings.kafka.outcomes_topic
        self._web = settings.outcomes.web_base_url
        self._clock = clock

    def build(
        self,
        source: SourceRef,
        message_id: str | None,
        *,
        status: OutcomeStatus,
        action: str,
        record_type: str | None = None,
        record_id: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> RecordOutcome:
        """The outcome of one record (pure apart from the clock)."""
        url = web_url(self._web, record_type, record_id) if record_type and record_id else None
        return RecordOutcome(
            id=outcome_id(source, message_id, action, record_id, reason),
            source=source,
            message_id=message_id,
            status=status,
            action=action,
            outreach_type=record_type,
            outreach_id=record_id,
            outreach_url=url,
            reason=reason,
            message=failure_message(reason, detail) if reason else None,
            at=iso_utc(self._clock()),
        )

    async def publish(self, outcomes: list[RecordOutcome]) -> None:
        """Produce and await the broker's acknowledgement of every outcome."""
        started = self._clock()
        acks = [
            await self._producer.send(
                self._topic, outcome.to_bytes(), key=outcome.source.key.encode()
            )
            for outcome in outcomes
        ]
        for ack in acks:
            await ack
        elapsed = max(0.0, self._clock() - started)
        for outcome in outcomes:
            OUTCOMES.labels(status=outcome.status, action=outcome.action).inc()
            OUTCOME_LATENCY.observe(elapsed)

    async def delivered(
        self,
        intent: LeadIntent,
        action: str,
        record_type: str | None,
        record_id: int | None,
    ) -> None:
        """The intent's records are in Outreach (created, updated, unchanged, matched...)."""
        record = {"record_type": record_type, "record_id": record_id}
        await self._per_message(intent, status="ok", action=action, **record)

    async def failed(self, intent: LeadIntent, reason: str, detail: str | None) -> None:
        """The intent's records were dead-lettered (or dropped at delivery) for ``reason``."""
        why = {"reason": reason, "detail": detail}
        await self._per_message(intent, status="failed", action="dead_lettered", **why)

    async def _per_message(
        self, intent: LeadIntent, *, status: OutcomeStatus, action: str, **fields: Any
    ) -> None:
        """Publish one outcome per messageId of the intent (one without an id when it has none);
        nothing for an intent without a source record."""
        source = intent.source
        if source is None:
            return
        messages = intent.message_ids or (None,)
        await self.publish(
            [self.build(source, m, status=status, action=action, **fields) for m in messages]
        )
