"""The delivery worker (consumer group ``leadgate-delivery-outreach``): lead intents into Outreach.

Every write goes through the dispatcher (``outreach/dispatch.py``), which maps the intent's
``kind`` to its handler. Per partition batch the intents are grouped by key (the email); within
a key, consecutive ``upsert_prospect`` intents are coalesced into one upsert, and any other kind
is a barrier delivered on its own, in the key's order.
Coalescing is leading-edge (``workers/coalesce.py``): an email not written within the last
``outreach.coalesce_window_s`` goes at once; its followers within the window are held
(``workers/holdback.py``, uncommitted until written) and written once at the window's end.
Groups run concurrently up to ``outreach.max_in_flight``; one email is only ever handled by one
group, so no lookup-then-create race is possible.

For each group: re-check consent against the latest profile (``consent_revoked``), upsert, and
publish one delivery trace record per source messageId. Failures:

- A ``DeliveryError``: the retry policy (``outreach/retry.py``, shared with ``leadgate send``)
  decides. ``Retry``: the group's records stay unfinished; the partition is sought back to the
  group's first offset and resumes after the policy's delay. The poll loop never sleeps.
  ``GiveUp`` (a permanent failure, or the retry window spent): every record of the group goes
  to the dead-letter topic; the offsets are finished only once that write is acknowledged.
- ``IntegrationStopped``: every partition stops delivering (nothing is dead-lettered, the events
  stay in Kafka) and the worker says so loudly; it probes again after ``backoff_cap_s``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

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
from leadgate.outreach.retry import GiveUp, RetryPolicy, RetryState
from leadgate.pipeline.consent import consent_granted
from leadgate.pipeline.privacy import email_identifier
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt
from leadgate.workers.coalesce import coalesce, units
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from leadgate.workers.delivery_reporting import DeliveryReporter
from leadgate.workers.holdback import HoldBack

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Failing:
    """Retry bookkeeping of one email whose delivery keeps failing."""

    state: RetryState
    next_at: float


@dataclass(frozen=True, slots=True)
class _Retry:
    delay_s: float


class DeliveryWorker:
    """Upserts lead intents into Outreach; see the module docstring."""

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
        self._producer = producer
        self._dead_letters = dead_letters
        self._clock = clock
        self._rand = rand
        self._failing: dict[str, _Failing] = {}
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
        )
        self._hold = HoldBack(settings.outreach.coalesce_window_s, self.loop, self._write_held)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain in-flight upserts and commit. Held records
        are not committed, so the next run delivers them."""
        try:
            await self.loop.run(stop)
        finally:
            await self._hold.close()

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        """Deliver one partition's batch; unfinished groups make the partition seek back."""
        done: list[int] = []
        groups: dict[str, list[tuple[Record, LeadIntent]]] = {}
        try:
            for record in records:
                intent = await self._decode(record)
                if intent is None:
                    done.append(record.offset)
                else:
                    groups.setdefault(intent.email, []).append((record, intent))
        except KafkaError as exc:
            log.warning("delivery.dead_letter_failed", error=type(exc).__name__)
            return BatchResult(done=(), retry_from=records[0].offset, retry_after_s=1.0)
        groups = self._hold.split(tp, groups)
        started = self._hold.edge.now()
        outcomes = await asyncio.gather(*(self._guarded(group) for group in groups.values()))
        delays: list[float] = []
        unfinished: list[int] = []
        for email, group, (finished, retry) in zip(groups, groups.values(), outcomes, strict=True):
            done.extend(record.offset for record, _ in group[:finished])
            if finished:
                self._hold.edge.wrote(email, started)
            if retry is not None:
                delays.append(retry.delay_s)
                unfinished.extend(record.offset for record, _ in group[finished:])
        if not unfinished:
            return BatchResult(done=tuple(done))
        return BatchResult(
            done=tuple(done), retry_from=min(unfinished), retry_after_s=max(min(delays), 0.0)
        )

    async def _write_held(self, group: list[tuple[Record, LeadIntent]]) -> tuple[int, float | None]:
        """Write a held group (``HoldBack``): how many leading records are final, and the seconds
        until a retry of the rest (None when every record is final)."""
        finished, retry = await self._guarded(group)
        return finished, retry.delay_s if retry is not None else None

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

    async def _guarded(self, group: list[tuple[Record, LeadIntent]]) -> tuple[int, _Retry | None]:
        """Deliver one key's records unit by unit, in order: how many leading records are final,
        and the retry of the first unit that is not (the units after it wait for it)."""
        finished = 0
        async with self._slots:
            for unit in units(group):
                try:
                    retry = await self._deliver(unit)
                except KafkaError as exc:
                    # A dead-letter or trace write failed: the unit is not finished, try again.
                    log.warning("delivery.produce_failed", error=type(exc).__name__)
                    retry = _Retry(1.0)
                if retry is not None:
                    return finished, retry
                finished += len(unit)
        return finished, None

    async def _deliver(self, group: list[tuple[Record, LeadIntent]]) -> _Retry | None:
        """One unit: a coalesced upsert, or one intent of another kind; None when final."""
        now = self._clock()
        if self._stopped_until > now:
            return _Retry(self._stopped_until - now)
        lead = coalesce([intent for _, intent in group])
        failing = self._failing.get(lead.email)
        if failing is not None and failing.next_at > now:
            return _Retry(failing.next_at - now)
        if await self._suppressions.suppressed([email_identifier(lead.email)]):
            await self._report.dropped(lead, str(DropReason.SUPPRESSED))
            self._failing.pop(lead.email, None)
            return None
        if lead.kind == "upsert_prospect" and not await self._consent_holds(lead):
            await self._report.dropped(lead, str(DropReason.CONSENT_REVOKED))
            self._failing.pop(lead.email, None)
            return None
        state = failing.state if failing is not None else RetryState()
        exchanges = ExchangeRecorder(attempt=state.attempt)
        try:
            result = await self._dispatcher.deliver(lead, exchanges)
        except DeliveryError as exc:
            return await self._failed(group, lead, exchanges, exc, state)
        except IntegrationStopped as exc:
            return self._stop(exc)
        self._failing.pop(lead.email, None)
        if self._stopped_until:
            self._stopped_until = 0.0
            log.warning("integration.resumed", integration="outreach")
        await self._report.delivered(lead, result, exchanges)
        return None

    async def _consent_holds(self, lead: LeadIntent) -> bool:
        """Consent re-checked against the latest profile; the snapshot fills what it lacks."""
        if not lead.required_consent:
            return True
        profile = await self._store.get_profile(lead.identities)
        latest = {**lead.consent, **profile.consent}
        return consent_granted(latest, lead.required_consent)

    async def _failed(
        self,
        group: list[tuple[Record, LeadIntent]],
        lead: LeadIntent,
        exchanges: ExchangeRecorder,
        exc: DeliveryError,
        state: RetryState,
    ) -> _Retry | None:
        """Ask the retry policy; dead-letter the unit or schedule its next try."""
        now = self._clock()
        decision = self._policy.decide(
            state, exc, now, rand=self._rand, outage=self._dispatcher.health.closed
        )
        if isinstance(decision, GiveUp):
            await self._give_up(
                group,
                lead,
                exchanges,
                decision.reason,
                exc.status,
                attempts=decision.state.tries,
                first_failure=decision.state.first_failure,
            )
            return None
        self._failing[lead.email] = _Failing(decision.state, now + decision.after_s)
        await self._report.retrying(
            lead,
            decision.reason,
            exc.status,
            exchanges,
            attempts=decision.state.tries,
            delay_s=decision.after_s,
        )
        return _Retry(decision.after_s)

    def _stop(self, exc: IntegrationStopped) -> _Retry:
        """Stop every partition: nothing more goes to Outreach until a person acts."""
        probe = self._outreach.backoff_cap_s
        self._stopped_until = self._clock() + probe
        log.error(
            "integration.stopped",
            integration="outreach",
            error=exc.message,
            action=exc.action,
            probe_in_s=probe,
        )
        return _Retry(probe)

    async def _give_up(
        self,
        group: list[tuple[Record, LeadIntent]],
        lead: LeadIntent,
        exchanges: ExchangeRecorder,
        reason: str,
        status: int | None,
        *,
        attempts: int,
        first_failure: float | None = None,
    ) -> None:
        await self._dead_letter_records(
            [record for record, _ in group],
            "deliver",
            reason,
            status=status,
            attempts=attempts,
            first_failure=first_failure,
        )
        self._failing.pop(lead.email, None)
        await self._report.dead_lettered(lead, reason, status, exchanges)

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
