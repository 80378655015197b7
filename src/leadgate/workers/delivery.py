"""The delivery worker (consumer group ``leadgate-delivery-outreach``): lead intents into Outreach.

A partition's batch is decoded and handed to per-email lanes (``workers/lanes.py``) at once, so
the partition flows on while the lanes deliver; one email's records stay in order. Within a
lane, consecutive ``upsert_prospect`` intents are coalesced into one upsert (leading edge:
followers within ``outreach.coalesce_window_s`` of a write wait for the window's end), and any
other kind is a barrier delivered on its own. Every write goes through the dispatcher
(``outreach/dispatch.py``); at most ``outreach.max_in_flight`` tries run at once.

For each unit: drop it if its person was forgotten meanwhile (``suppressed``), re-check consent
against the latest profile (``consent_revoked``; prospect upserts only), deliver, and publish
one delivery trace record per source messageId and try (with the try's real attempt number).
A failure is decided by the one retry policy (``outreach/retry.py``, shared with ``leadgate
send``):

- ``Retry``: the unit waits in its lane (its own backoff, or at once behind Outreach's shared
  health gate during an outage, ``outreach/health.py``) and is tried again; nothing else waits.
- ``GiveUp`` (a permanent failure, or the retry window spent): every record of the unit goes to
  the dead-letter topic; the offsets are finished only once that write is acknowledged.
- ``IntegrationStopped``: every lane stops delivering (nothing is dead-lettered, the events stay
  in Kafka) and the worker says so loudly; it probes again after ``backoff_cap_s``.

Offsets are committed only when final (the consume loop commits the lowest unfinished offset).
On shutdown or revoke the lanes get the drain time to finish; what is left is redelivered.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from leadgate.domain.lead import LEAD_SCHEMA_VERSION, LeadIntent
from leadgate.domain.reasons import DeadLetterReason, DropReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import DeliveryError, IntegrationStopped
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import DEAD_LETTERS, record_event
from leadgate.outreach.dispatch import Dispatcher
from leadgate.outreach.health import HealthGate
from leadgate.outreach.retry import GiveUp, RetryPolicy, RetryState
from leadgate.pipeline.consent import consent_granted
from leadgate.pipeline.privacy import email_identifier
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt
from leadgate.workers.coalesce import coalesce, units
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from leadgate.workers.delivery_reporting import DeliveryReporter
from leadgate.workers.lanes import Item, Lanes

log = get_logger(__name__)

# Records handed to lanes and not final yet, per write slot: enough to keep every slot busy
# while one email waits, small enough to bound memory (the partitions pause beyond it).
PENDING_PER_SLOT = 8
# After a failed dead-letter or trace write (Kafka unavailable), try the unit again this late.
PRODUCE_RETRY_S = 1.0


class DeliveryWorker:
    """Delivers lead intents into Outreach; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        dispatcher: Dispatcher,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterWriter,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        suppressions: SuppressionList | None = None,
    ) -> None:
        self._settings = settings
        self._outreach = settings.outreach
        # Intents already on the topic when their person was forgotten are not delivered.
        self._suppressions = suppressions or SuppressionList(
            store, PersonHasher(load_salt(settings))
        )
        self._store = store
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        self._clock = clock
        self._rand = rand
        self._policy = RetryPolicy.from_settings(settings.outreach)
        self._report = DeliveryReporter(producer, settings, clock=clock)
        self._stopped_until = 0.0
        self._slots = asyncio.Semaphore(settings.outreach.max_in_flight)
        kafka = settings.kafka
        self.loop = ConsumeLoop(
            kafka,
            topic=kafka.delivery_topic,
            group=kafka.delivery_group,
            handler=self.handle,
            dead_letters=dead_letters,
            on_drain=self._drain,
        )
        self.lanes = Lanes(
            self.loop,
            self._deliver_lane,
            window_s=settings.outreach.coalesce_window_s,
            max_pending=settings.outreach.max_in_flight * PENDING_PER_SLOT,
        )

    @property
    def gate(self) -> HealthGate:
        """Outreach's shared health gate (``outreach/health.py``) this worker delivers behind."""
        return self._dispatcher.health

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then let the lanes finish (within the drain bound) and
        commit; records still unfinished are not committed, so the next run delivers them."""
        try:
            await self.loop.run(stop)
        finally:
            await self.lanes.close()

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        """Hand one partition's batch to the email lanes; only records finished here (empty, or
        dead-lettered as undecodable) are ``done`` now, the lanes complete the others."""
        done: list[int] = []
        lanes: dict[str, list[Item]] = {}
        generation = self.loop.generation_of(tp)
        try:
            for record in records:
                intent = await self._decode(record)
                if intent is None:
                    done.append(record.offset)
                else:
                    lanes.setdefault(intent.key, []).append(Item(tp, generation, record, intent))
        except KafkaError as exc:
            log.warning("delivery.dead_letter_failed", error=type(exc).__name__)
            return BatchResult(done=(), retry_from=records[0].offset, retry_after_s=1.0)
        for email, items in lanes.items():
            await self.lanes.put(email, items)
        return BatchResult(done=tuple(done))

    async def _drain(self, timeout_s: float, only: set[TopicPartition] | None) -> None:
        if not await self.lanes.idle(timeout_s, only):
            log.warning("delivery.drain_timeout", pending=self.lanes.pending)
        if only is None:  # the stop's drain: what finishes after the last commit is redone
            await self.lanes.close()

    async def _decode(self, record: Record) -> LeadIntent | None:
        """The record's intent; None when it is finished already (empty, or dead-lettered)."""
        value: bytes | None = record.value
        if not value:
            record_event("delivery", "skipped", "empty_record")
            return None
        try:
            raw = orjson.loads(value)
            version = raw.get("schema_version") if isinstance(raw, dict) else None
            if isinstance(version, int) and version > LEAD_SCHEMA_VERSION:
                await self._dead_letter_records(
                    [record], "deserialize", str(DeadLetterReason.UNSUPPORTED_SCHEMA)
                )
                return None
            return LeadIntent.model_validate(raw)
        except (orjson.JSONDecodeError, ValidationError, ValueError):
            await self._dead_letter_records(
                [record], "deserialize", str(DeadLetterReason.DESERIALIZE)
            )
            return None

    async def _deliver_lane(self, items: list[Item]) -> None:
        """Deliver one lane's records unit by unit, in order, each until final."""
        for unit in units([(item, item.intent) for item in items]):
            batch = [item for item, _ in unit]
            while True:
                try:
                    await self._until_final(batch)
                except KafkaError as exc:
                    # A dead-letter or trace write failed: the unit is not final, try again.
                    log.warning("delivery.produce_failed", error=type(exc).__name__)
                    await asyncio.sleep(PRODUCE_RETRY_S)
                    continue
                break
            self.lanes.complete(batch)

    async def _until_final(self, unit: list[Item]) -> None:
        """Try one unit until it is delivered, dropped or dead-lettered, or its partition is no
        longer ours (its new owner delivers it)."""
        lead = coalesce([item.intent for item in unit])
        state = RetryState()
        while all(self.lanes.current(item) for item in unit):
            await self._while_stopped()
            # One after the other: on SQLite both are inline point reads, and a gather would
            # cost a turn of the event loop (on Redis, one more loopback round trip).
            if await self._suppressions.suppressed([email_identifier(lead.email)]):
                await self._report.dropped(lead, str(DropReason.SUPPRESSED))
                return
            if not await self._consent_holds(lead):
                await self._report.dropped(lead, str(DropReason.CONSENT_REVOKED))
                return
            exchanges = ExchangeRecorder(attempt=state.attempt)
            try:
                async with self._slots:
                    result = await self._dispatcher.deliver(lead, exchanges)
            except DeliveryError as exc:
                decision = self._policy.decide(
                    state,
                    exc,
                    self._clock(),
                    rand=self._rand,
                    outage=self._dispatcher.health.closed,
                )
                if isinstance(decision, GiveUp):
                    await self._dead_letter_records(
                        [item.record for item in unit],
                        "deliver",
                        decision.reason,
                        status=exc.status,
                        attempts=decision.state.tries,
                        first_failure=decision.state.first_failure,
                    )
                    await self._report.dead_lettered(
                        lead, decision.reason, exc.status, exchanges, detail=exc.message
                    )
                    return
                state = decision.state
                await self._report.retrying(
                    lead,
                    decision.reason,
                    exc.status,
                    exchanges,
                    attempts=state.tries,
                    delay_s=decision.after_s,
                )
                await self._dispatcher.health.pause(decision.after_s)
                continue
            except IntegrationStopped as exc:
                self._stop(exc)
                continue
            if self._stopped_until:
                self._stopped_until = 0.0
                log.warning("integration.resumed", integration="outreach")
            await self._report.delivered(lead, result, exchanges)
            return

    async def _consent_holds(self, lead: LeadIntent) -> bool:
        """Consent re-checked against the latest profile; the snapshot fills what it lacks
        (only prospect upserts are checked)."""
        if lead.kind != "upsert_prospect" or not lead.required_consent:
            return True
        profile = await self._store.get_profile(lead.identities)
        latest = {**lead.consent, **profile.consent}
        return consent_granted(latest, lead.required_consent)

    async def _while_stopped(self) -> None:
        """Wait while the integration is stopped (until the next probe)."""
        wait = self._stopped_until - self._clock()
        if wait > 0:  # a later stop while sleeping is seen at the next try
            await asyncio.sleep(wait)

    def _stop(self, exc: IntegrationStopped) -> None:
        """Stop every lane: nothing more goes to Outreach until a person acts."""
        probe = self._outreach.backoff_cap_s
        first = self._stopped_until <= self._clock()
        self._stopped_until = self._clock() + probe
        if first:
            log.error(
                "integration.stopped",
                integration="outreach",
                error=exc.message,
                action=exc.action,
                probe_in_s=probe,
            )

    async def _dead_letter_records(
        self,
        records: list[Record],
        stage: str,
        reason: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        first_failure: float | None = None,
    ) -> None:
        when = first_failure if first_failure is not None else self._clock()
        acks = [
            await self._dead_letters.send(
                record,
                stage=stage,
                reason=reason,
                status=status,
                attempts=attempts,
                first_failure=when,
            )
            for record in records
        ]
        await asyncio.gather(*acks)
        DEAD_LETTERS.labels(stage=stage, reason=reason).inc(len(records))
