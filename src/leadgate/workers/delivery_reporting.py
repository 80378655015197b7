"""What the delivery worker tells the world about one coalesced lead: a trace record per source
messageId (the inspector folds them into each event's view), one outcome log line, metrics, and
for a CRM record its outcome on ``leadgate.outcomes`` (``workers/outcomes.py``), acknowledged
before the record counts as finished.

The trace record is the contract with the inspector::

    {"messageId", "stage": "delivery", "outcome": "delivered"|"dead_lettered"|"dropped"|"pending",
     "reason", "prospectId", "action", "result": DeliveryResult.to_json() | None,
     "exchanges": [VendorExchange.to_json()...], "at",
     "stages": [StageRecord.to_json()...]}   # a routed lead's decisions (owner, stage, sequence)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from leadgate.domain.lead import LeadIntent
from leadgate.domain.times import epoch_seconds
from leadgate.domain.trace import ExchangeRecorder
from leadgate.kafka.traces import publish_trace
from leadgate.observability.logging import get_logger, log_prospect_error, log_prospect_success
from leadgate.observability.metrics import DELIVERY_LATENCY, RETRIES, record_event, record_exchange
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.settings import Settings
from leadgate.workers.outcomes import OutcomePublisher

log = get_logger(__name__)


class DeliveryReporter:
    """Publishes delivery traces (best effort) and counts and logs each outcome."""

    def __init__(
        self, producer: Any, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._producer = producer
        self._settings = settings
        self._clock = clock
        self.outcomes = OutcomePublisher(producer, settings, clock=clock)

    async def delivered(
        self, lead: LeadIntent, result: DeliveryResult, exchanges: ExchangeRecorder
    ) -> None:
        """The intent was delivered (a prospect created, updated, already up to date ...)."""
        log_prospect_success(
            log,
            message_ids=lead.message_ids,
            prospect_id=result.prospect_id,
            action=result.action,
            email=lead.email,
        )
        self._count(lead, "delivered", result.action)
        received = _epoch(lead.received_at)
        if received is not None:
            DELIVERY_LATENCY.observe(max(0.0, self._clock() - received))
        await self._trace(lead, "delivered", None, exchanges, result=result)
        await self.outcomes.delivered(lead, result.action, result.record_type, result.record_id)

    async def dropped(self, lead: LeadIntent, reason: str) -> None:
        """The lead was not sent (e.g. ``consent_revoked``)."""
        self._count(lead, "dropped", reason)
        await self._trace(lead, "dropped", reason, ExchangeRecorder())

    async def retrying(
        self,
        lead: LeadIntent,
        reason: str,
        status: int | None,
        exchanges: ExchangeRecorder,
        *,
        attempts: int,
        delay_s: float,
    ) -> None:
        """This attempt failed transiently; the lead waits ``delay_s`` and is tried again."""
        RETRIES.labels(reason=reason).inc()
        log_prospect_error(
            log,
            message_ids=lead.message_ids,
            reason=reason,
            status=status,
            retriable=True,
            detail=f"attempt {attempts}, next in {delay_s:.1f}s",
        )
        await self._trace(lead, "pending", reason, exchanges)

    async def dead_lettered(
        self,
        lead: LeadIntent,
        reason: str,
        status: int | None,
        exchanges: ExchangeRecorder,
        *,
        detail: str | None = None,
    ) -> None:
        """The lead's records are on the dead-letter topic (acknowledged); ``detail`` is the
        error's sanitised message, for the outcome."""
        log_prospect_error(
            log, message_ids=lead.message_ids, reason=reason, status=status, retriable=False
        )
        self._count(lead, "dead_lettered", reason)
        await self._trace(lead, "dead_lettered", reason, exchanges)
        await self.outcomes.failed(lead, reason, detail)

    async def _trace(
        self,
        lead: LeadIntent,
        outcome: str,
        reason: str | None,
        exchanges: ExchangeRecorder,
        *,
        result: DeliveryResult | None = None,
    ) -> None:
        for exchange in exchanges:
            record_exchange(exchange)
        exchanged = [e.to_json() for e in exchanges]
        at = self._clock()
        for message_id in lead.message_ids:
            record = {
                "messageId": message_id,
                "stage": "delivery",
                "outcome": outcome,
                "reason": reason,
                "prospectId": result.prospect_id if result is not None else None,
                "action": result.action if result is not None else None,
                "result": result.to_json() if result is not None else None,
                "exchanges": exchanged,
                "at": at,
            }
            if result is not None and result.routing is not None:
                record["stages"] = [stage.to_json() for stage in result.routing.stages]
            await publish_trace(self._producer, self._settings, message_id, record)

    @staticmethod
    def _count(lead: LeadIntent, outcome: str, reason: str | None) -> None:
        for _ in lead.message_ids:
            record_event("delivery", outcome, reason)


def _epoch(iso: str | None) -> float | None:
    """The collector's ``receivedAt`` as epoch seconds (None when absent or unreadable)."""
    return epoch_seconds(iso) if iso else None
