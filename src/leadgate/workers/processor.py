"""The processor (consumer group ``leadgate-processor``): events in, lead intents and traces out.

Per record, in partition order: decode, dedupe the messageId, take the profile of the event's
identities, run the pure ``process()``, keep the profile update, produce the lead intent to the
delivery topic (keyed by normalised email) and the trace to the traces topic (keyed by
messageId). The store is read and written once per batch (profiles and seen ids), and the
batch's traces go out as record batches per partition, merged with those of the batches
before it that are still being handed over (``workers/trace_writer.py``). Once a batch's
outputs are sent and its profiles stored it is *handed on* and the partition's next batch runs;
it settles in the background (``workers/settling.py``): only when every produce of it (lead
intents and traces) was acknowledged are the messageIds of its events that changed a profile or
made a lead marked seen (for ``pipeline.dedupe_ttl_s``) and its offsets finished. Until then
those messageIds count as seen for the next batches. A crash before that replays the batch,
and the dedupe skips what was already handed on. Events whose repeat would change
nothing (page views, unmapped tracks: most of a site's traffic) are not remembered: a replayed
one is processed again to the same no-op, and the store does not grow with them.

Bad records (docs/reliability.md, K-series): an empty value or tombstone is skipped and counted
(K3); bytes that are not a JSON object go to the dead-letter topic with ``stage=deserialize`` (K1);
an event of a newer schema version than we speak goes there as ``unsupported_schema`` (K2). A JSON
object that is not a valid Segment event is a ``Drop(malformed)`` with a trace, like any other drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from leadgate.domain.events import EventHead, decode
from leadgate.domain.outcome import Drop, Outcome
from leadgate.domain.reasons import DeadLetterReason, DropReason
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.logging import get_logger, log_dropped
from leadgate.observability.metrics import (
    DEAD_LETTERS,
    EVENTS,
    KEY_MISMATCH,
    PROCESS_LATENCY,
    record_event,
)
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.process import process
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.workers.batch_profiles import BatchProfiles
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from leadgate.workers.privacy_gate import PrivacyGate
from leadgate.workers.settling import HandedOn, Settling
from leadgate.workers.skipped import duplicate_outcome, suppressed_outcome
from leadgate.workers.trace_writer import TraceWriter

__all__ = ["PresetSource", "Processor"]

log = get_logger(__name__)


class PresetSource(Protocol):
    """Where the processor takes the preset for the next event from."""

    @property
    def current(self) -> Preset: ...

    def reload_if_changed(self) -> bool: ...


# The consume loop takes a finished batch back (and resumes its partition) only when its poll
# returns; with every partition paused behind a batch, that is the poll timeout. 10 ms instead
# of 100 ms keeps the partitions flowing (bench P2); an idle poll every 10 ms costs nothing.
POLL_TIMEOUT_MS = 10

# The Segment spec's message format version; an event claiming a newer one is not guessed at.
SUPPORTED_EVENT_VERSION = 2


def _decode(value: bytes | None) -> tuple[EventHead | None, dict[str, Any] | None]:
    """The event's checked head (decoded once: ``process()`` reuses it) and its JSON object;
    a record that is not a valid Segment head is parsed plainly (the K1/K2 checks need it)."""
    if not value:
        return None, None
    head = decode(value)
    if not isinstance(head, Drop):
        return head, head.data
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None, None
    return None, decoded if isinstance(decoded, dict) else None


def _count_key_mismatches(
    topic: str, records: list[Record], decoded: list[tuple[EventHead | None, Any]]
) -> None:
    """Records keyed otherwise than the collector keys them (anonymousId, else userId; a
    foreign producer may use anything, or no key) are processed as they are, and counted."""
    mismatched = 0
    for record, (_, event) in zip(records, decoded, strict=True):
        if event is None:
            continue
        identity = event.get("anonymousId") or event.get("userId")
        if identity is not None and record.key != str(identity).encode():
            mismatched += 1
    if mismatched:
        KEY_MISMATCH.labels(topic=topic).inc(mismatched)


def _message_id(event: dict[str, Any] | None) -> str | None:
    message_id = event.get("messageId") if event is not None else None
    return message_id if isinstance(message_id, str) and message_id else None


class _BatchOutput:
    """What one batch writes besides lead intents: its traces (sent together), its outcome
    counts (added to the metrics once) and its log lines (one logger, bound once; a routine
    drop's debug line is not even built when debug is off)."""

    def __init__(self, traces: TraceWriter) -> None:
        self.traces = traces
        self.log = log.bind()
        self.debug = self.log.is_enabled_for(logging.DEBUG)
        self.counts: dict[tuple[str, str], int] = {}
        # Whether the record just handled changed a profile or made a lead (then its messageId
        # is remembered: only such a repeat would do harm).
        self.consequential = False

    def count(self, outcome: str, reason: str) -> None:
        key = (outcome, reason)
        self.counts[key] = self.counts.get(key, 0) + 1

    def flush_counts(self) -> None:
        for (outcome, reason), n in self.counts.items():
            EVENTS.labels(stage="processor", outcome=outcome, reason=reason).inc(n)
        self.counts.clear()


class Processor:
    """Runs ``process()`` over the events topic; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        producer: AIOKafkaProducer,
        presets: PresetSource,
        dead_letters: DeadLetterWriter,
        *,
        privacy: PrivacyGate | None = None,
    ) -> None:
        self._settings = settings
        self._privacy = privacy or PrivacyGate.open(settings, store)
        self._store = store
        self._producer = producer
        self.presets = presets
        self._dead_letters = dead_letters
        kafka = settings.kafka
        self.loop = ConsumeLoop(
            kafka,
            topic=kafka.events_topic,
            group=kafka.processor_group,
            handler=self.handle,
            poll_timeout_ms=POLL_TIMEOUT_MS,
            dead_letters=dead_letters,
            # A batch is a whole fetch: none of it is fetched twice, and the store round trips
            # and produce requests per batch are shared by ~2,000 events under a backlog.
            whole_fetches=True,
            on_drain=self._drain,
        )
        self._settling = Settling(self.loop, store, settings.pipeline.dedupe_ttl_s)
        self._traces = TraceWriter(producer, settings)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set (then drain and commit); presets reload meanwhile."""
        watcher = asyncio.create_task(self._watch_presets(stop))
        try:
            await self.loop.run(stop)
        finally:
            await self._settling.close()
            await self._traces.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch_presets(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.pipeline.presets_poll_s)
            self.presets.reload_if_changed()

    async def _drain(self, timeout_s: float, only: set[TopicPartition] | None) -> None:
        await self._settling.idle(timeout_s, only)

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        """Process one partition's batch and hand it on; its offsets are finished when it
        settles (every output acknowledged, its messageIds remembered).

        The store is read once and written once per batch: the profiles of every identity in
        the batch come in one read, and a batch-local copy carries each event's update to the
        later events of the same batch. Nothing is cached across batches, so a consent changed
        by another processor instance is always seen by the next batch.
        """
        started = time.perf_counter()
        generation = self.loop.generation_of(tp)
        acks: list[Awaitable[Any]] = []
        processed: list[str] = []
        decoded = [_decode(r.value) for r in records]
        _count_key_mismatches(tp.topic, records, decoded)  # K7
        ids = [_message_id(event) for _, event in decoded]
        wanted_ids = [m for m in ids if m]
        already = await self._store.seen(wanted_ids) | self._settling.unsettled(wanted_ids)
        # A forgotten person's events stop here, before any state is read or written.
        suppressed = await self._privacy.suppressed(
            [head if m not in already else None for (head, _), m in zip(decoded, ids, strict=True)]
        )
        wanted = {
            k
            for position, ((head, _), m) in enumerate(zip(decoded, ids, strict=True))
            if head is not None and m not in already and position not in suppressed
            for k in head.identities
        }
        batch = BatchProfiles(self._store, wanted, await self._store.get_profiles(list(wanted)))
        try:
            out = _BatchOutput(await self._traces.ready())
            rows = zip(records, decoded, ids, strict=True)
            for position, (record, (head, event), message_id) in enumerate(rows):
                if message_id is not None and message_id in already:
                    assert event is not None
                    self._publish(duplicate_outcome(event, message_id), message_id, out)
                    continue
                if position in suppressed:  # changes nothing, so it is not remembered as seen
                    assert head is not None
                    trace_id = message_id or f"offset:{record.partition}:{record.offset}"
                    self._publish(suppressed_outcome(head), trace_id, out, suppressed=True)
                    continue
                out.consequential = False
                acks.extend(await self._one(record, head, event, message_id, batch, out))
                if message_id is not None and out.consequential:
                    already.add(message_id)  # a repeat later in this batch is a duplicate too
                    processed.append(message_id)
            out.flush_counts()
            acks.append(out.traces.written())  # handed over in the background
        except KafkaError as exc:
            log.warning("processor.produce.error", partition=tp.partition, error=type(exc).__name__)
            return BatchResult(done=(), retry_from=records[0].offset, retry_after_s=1.0)
        # One trip to the store for both writes (they are independent).
        await asyncio.gather(
            self._store.put_profiles(batch.changed), self._privacy.remember(batch.changed)
        )
        offsets = tuple(r.offset for r in records)
        self._settling.hand_on(HandedOn(tp, generation, offsets, tuple(processed)), acks)
        PROCESS_LATENCY.observe((time.perf_counter() - started) / len(records))
        return BatchResult(done=())

    async def _one(
        self,
        record: Record,
        head: EventHead | None,
        event: dict[str, Any] | None,
        message_id: str | None,
        batch: BatchProfiles,
        out: _BatchOutput,
    ) -> list[Awaitable[Any]]:
        """Handle one record; returns the acknowledgements the batch must wait for."""
        value: bytes | None = record.value
        if not value:
            record_event("processor", "skipped", "empty_record")  # K3
            return []
        if event is None:
            return [await self._dead_letter(record, DeadLetterReason.DESERIALIZE)]  # K1
        version = event.get("version")
        if isinstance(version, int) and version > SUPPORTED_EVENT_VERSION:
            return [await self._dead_letter(record, DeadLetterReason.UNSUPPORTED_SCHEMA)]  # K2
        # A record without a valid head has no identities; process() says why it drops.
        snapshot = await batch.snapshot(head.identities if head is not None else ())
        outcome = process(
            value,
            snapshot,
            self.presets.current,
            default_region=self._settings.pipeline.default_phone_region,
            head=head,
        )
        if outcome.profile is not None and outcome.identities:
            batch.update(outcome.identities, outcome.profile)
        # Only a repeat of an event that changed a profile or made a lead could do harm.
        out.consequential = outcome.profile is not None or outcome.lead is not None
        acks: list[Awaitable[Any]] = []
        if outcome.lead is not None:
            lead = outcome.lead
            acks.append(
                await self._producer.send(
                    self._settings.kafka.delivery_topic,
                    value=lead.to_bytes(),
                    key=lead.key.encode(),
                )
            )
        trace_id = outcome.message_id or message_id or f"offset:{record.partition}:{record.offset}"
        self._publish(outcome, trace_id, out)
        return acks

    def _publish(
        self, outcome: Outcome, trace_id: str, out: _BatchOutput, *, suppressed: bool = False
    ) -> None:
        """Count, log and trace one outcome (the trace goes out with the batch's); the trace
        of a suppressed event says so, and the inspector keeps nothing of it but that."""
        if outcome.sent:
            out.count("pending", "")
        else:
            reason = str(outcome.drop) if outcome.drop is not None else "unknown"
            out.count("dropped", reason)
            routine = outcome.drop is DropReason.UNMAPPED_EVENT
            if out.debug or not routine:
                log_dropped(
                    out.log,
                    message_id=outcome.message_id,
                    event=outcome.event_name,
                    reason=reason,
                    detail=outcome.detail,
                    routine=routine,
                )
        trace = outcome.trace_json()
        trace["messageId"] = trace_id
        trace["at"] = time.time()
        if suppressed:
            trace["suppressed"] = True
        out.traces.add(trace_id, trace)

    async def _dead_letter(self, record: Record, reason: DeadLetterReason) -> Awaitable[Any]:
        DEAD_LETTERS.labels(stage="deserialize", reason=str(reason)).inc()
        log.warning(
            "incoming.event.dead_lettered",
            partition=record.partition,
            offset=record.offset,
            reason=str(reason),
        )
        return await self._dead_letters.send(
            record,
            stage="deserialize",
            reason=str(reason),
            status=None,
            attempts=1,
            first_failure=time.time(),
        )
