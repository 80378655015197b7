"""The consume loop both workers share: fetch, hand batches out, commit only what is finished.

How it keeps at-least-once without stalling the group (docs/reliability.md P10, P17, P18):

- ``enable_auto_commit=False``; the loop commits ``OffsetTracker.committable()`` (the lowest
  unfinished offset per partition) every ``commit_interval_s`` (beside the poll, not in its
  way: ``workers/commits.py``), on revoke and on shutdown. The revoke listener is not called
  before ``stop()`` (aiokafka docs), so shutdown commits itself.
- One batch in flight per partition, so records of one key stay in order. The partition keeps
  fetching meanwhile (the next batch is ready the moment the handler finishes, without a fetch
  round trip); it is paused once ``max_poll_records`` wait behind the batch, so memory stays
  bounded.
- A handler that cannot finish (a vendor outage, a 429) answers with ``retry_from``: the loop
  seeks the partition back to that offset and resumes it after the delay. It never sleeps in
  the poll loop, so ``getmany`` keeps being called and the consumer stays in its group.
- Offsets a handler finished beyond ``retry_from`` stay final in the tracker and are skipped
  when the records come again, so a seek-back redoes no finished work.
- The revoke listener waits (bounded by ``drain_timeout_s``) for the revoked partitions'
  batches, commits, and forgets them. It shares no lock with ``getmany`` (aiokafka #335).
- ``whole_fetches`` takes every record a fetch brought and makes the next batch of all that
  waits (at most ``max_poll_records`` plus one fetch, ``max_partition_fetch_bytes``, as the
  partition pauses once a full batch waits). Without it a poll takes ``max_poll_records``, and
  aiokafka drops the rest of a fetch when its partition pauses and fetches it again on resume:
  at 500 records per poll from fetches of ~2,000, most records were fetched several times
  (bench P2x: the broker's CPU per event halved without that). The processor uses it: its
  store round trips and produce requests per batch are then shared by ~2,000 events.
- ``linger_s`` holds a partition's first records back for a short window so that records of
  one key arriving close together reach the handler as one batch (0: dispatch at once).
- A handler may leave offsets out of ``done`` without a ``retry_from`` (records it keeps
  working on after returning, e.g. the delivery worker's per-email lanes): they stay
  unfinished, so nothing at or past them is committed, until it calls ``complete()``; the
  ``on_drain`` hook lets that work finish (bounded) before a revoke's or shutdown's commit.
- A stop always ends within ``drain_timeout_s`` plus one session timeout, even while the group
  rebalances: the poll is cancelled rather than awaited, a revoke during the stop shares its
  drain deadline, and the final commit and the leave are bounded (:mod:`.stopping`).
- A record batch the consumer cannot decode makes ``getmany`` raise, again on every call. The
  loop then finds the batch itself and dead-letters it and seeks past it, or stops that one
  partition there (``kafka.errors_tolerance``, :mod:`leadgate.workers.undecodable`); the
  records before it are processed either way. An error that is not such a batch ends the loop.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from leadgate.kafka.batches import BadBatch, rewind_lost
from leadgate.kafka.clients import start_or_stop
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.settings import KafkaSettings
from leadgate.workers.batch_result import BatchHandler, BatchResult, Drained, Partition, Record
from leadgate.workers.commits import Commits
from leadgate.workers.fetch_wait import FetchWait
from leadgate.workers.offsets import OffsetTracker
from leadgate.workers.stopping import cancel_all, consume_until, leave, leave_budget_s
from leadgate.workers.undecodable import BadBatches

__all__ = ["BatchHandler", "BatchResult", "ConsumeLoop", "Drained", "Record"]

log = structlog.get_logger(__name__)

_BUSY_POLL_MS = 5


class ConsumeLoop:
    """One consumer group member running ``handler`` over ``topic``'s partitions."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str,
        group: str,
        handler: BatchHandler,
        linger_s: float = 0.0,
        commit_interval_s: float = 0.5,
        poll_timeout_ms: int = 100,
        error_backoff_s: float = 1.0,
        dead_letters: DeadLetterWriter | None = None,
        on_drain: Drained | None = None,
        whole_fetches: bool = False,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._group = group
        self._handler = handler
        self._linger_s = linger_s
        self._poll_timeout_ms = poll_timeout_ms
        self._error_backoff_s = error_backoff_s
        self._tracker = OffsetTracker()
        self._parts: dict[TopicPartition, Partition] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._commits = Commits(self._tracker, group, commit_interval_s, self._time_to_leave)
        self._fetch_wait = FetchWait(settings.fetch_max_wait_ms)
        self.assignments = 0
        self.revocations = 0
        self.bad_batches = BadBatches(settings, group, dead_letters)
        self._on_drain = on_drain
        self._whole_fetches = whole_fetches
        # set at the first assignment: the member has joined its group and consumes
        self.joined = asyncio.Event()
        self._polling = False  # inside getmany (which waits out a rebalance, see .stopping)
        self._drain_by: float | None = None  # set once stopping: in-flight work ends by then
        self._leave_by: float | None = None  # then the commit and the leave end by this
        self._draining = False

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain in-flight batches, commit and leave."""
        s = self._settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=None if self._whole_fetches else s.max_poll_records,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            session_timeout_ms=s.session_timeout_ms,
            rebalance_timeout_ms=s.rebalance_timeout_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            request_timeout_ms=s.request_timeout_ms,
            heartbeat_interval_ms=max(1000, s.session_timeout_ms // 4),
        )
        consumer.subscribe([self._topic], listener=_Listener(self))
        self._consumer = consumer
        await start_or_stop(consumer)
        log.info("consumer.started", topic=self._topic, group=self._group)
        try:
            await consume_until(stop, self._steps(consumer, stop), lambda: self._polling)
            self._drain_by = time.monotonic() + s.drain_timeout_s
            await self._drain(self._drain_timeout())
            self._leave_by = time.monotonic() + leave_budget_s(s)
            await self._commits.now(consumer)
        finally:
            await self._cancel_all()
            await leave(consumer, self._time_to_leave(), self._group)
            self._consumer = None
            took = None if self._drain_by is None else self._drain_by - s.drain_timeout_s
            log.info(
                "consumer.stopped",
                topic=self._topic,
                group=self._group,
                stop_s=None if took is None else round(time.monotonic() - took, 3),
            )

    async def _steps(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._step(consumer)

    def _drain_timeout(self) -> float:
        """A drain's bound: ``drain_timeout_s``, or what is left of it once stopping (a revoke
        during the stop shares the stop's deadline instead of starting a drain of its own)."""
        if self._drain_by is None:
            return self._settings.drain_timeout_s
        return max(self._drain_by - time.monotonic(), 0.0)

    def _time_to_leave(self) -> float:
        """A commit's or the leave's bound: one session timeout, or what is left of the leave
        budget once the stop's drain is over."""
        if self._leave_by is None:
            return leave_budget_s(self._settings)
        return max(self._leave_by - time.monotonic(), 0.0)

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        self._resume_due(consumer)
        # While a batch is in flight, poll briefly: its partition flows again only once the
        # loop has seen it finish, and records behind it should not wait a whole poll for that.
        busy = any(part.task is not None for part in self._parts.values())
        timeout_ms = min(self._poll_timeout_ms, _BUSY_POLL_MS) if busy else self._poll_timeout_ms
        self._polling = True
        try:
            batches = await consumer.getmany(timeout_ms=timeout_ms)
        except Exception as exc:  # a batch that does not decode raises here, on every call
            self._polling = False
            await self._unreadable(consumer, exc)
            return
        self._polling = False
        self._fetch_wait.apply(consumer, flowing=any(batches.values()))
        for tp, records in batches.items():
            self._accept(tp, records)
            self._hold_if_full(consumer, tp)
        self._collect_finished(consumer)
        self._dispatch_due(consumer)
        self._commits.beside(consumer)

    def _accept(self, tp: TopicPartition, records: list[Record]) -> None:
        part = self._parts.setdefault(tp, Partition())
        if records:
            part.received_next = records[-1].offset + 1
        # track() is False for a record already final in this generation (re-fetched after a
        # seek-back): it is skipped, not redone.
        fresh = [r for r in records if self._tracker.track(tp, r.offset)]
        if not fresh:
            return
        if not part.buffer:
            now = time.time()
            produced_at = fresh[0].timestamp / 1000 if fresh[0].timestamp else now
            part.deadline = min(now, produced_at) + self._linger_s
        part.buffer.extend(fresh)

    def _hold_if_full(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        """A partition keeps fetching while its batch is in flight (the next batch is then
        ready the moment it finishes); it pauses once a full batch waits behind it."""
        part = self._parts.get(tp)
        full = part is not None and len(part.buffer) >= self._settings.max_poll_records
        if full and part is not None and part.task is not None:
            consumer.pause(tp)

    def _dispatch_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.time()
        for tp, part in self._parts.items():
            if part.task is not None or not part.buffer or part.resume_at is not None:
                continue
            if part.deadline > now and len(part.buffer) < self._settings.max_poll_records:
                continue
            cap = len(part.buffer) if self._whole_fetches else self._settings.max_poll_records
            batch, part.buffer = part.buffer[:cap], part.buffer[cap:]
            part.batch_first = batch[0].offset
            part.generation = self._tracker.generation_of(tp)
            part.task = asyncio.create_task(self._handler(tp, batch))
            part.task.add_done_callback(functools.partial(self._ended, tp))

    def _ended(self, tp: TopicPartition, task: asyncio.Task[BatchResult]) -> None:
        """A batch ended between polls: fold it in and start the partition's next batch now,
        not when the poll returns (up to its timeout later: a wait for every batch of a busy
        partition, bench ``p5_hops``). A drain folds its batches in itself."""
        part = self._parts.get(tp)
        consumer = self._consumer
        if consumer is None or part is None or part.task is not task or self._draining:
            return
        self._finish(consumer, tp, part)
        if self._drain_by is None:
            self._dispatch_due(consumer)

    def _collect_finished(self, consumer: AIOKafkaConsumer) -> None:
        for tp, part in self._parts.items():
            if part.task is not None and part.task.done():
                self._finish(consumer, tp, part)

    def _finish(self, consumer: AIOKafkaConsumer, tp: TopicPartition, part: Partition) -> None:
        """Fold a finished batch into the tracker and decide when the partition flows again."""
        task, part.task = part.task, None
        assert task is not None
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("batch.failed", topic=tp.topic, partition=tp.partition, error=repr(error))
            result = BatchResult(done=(), retry_from=part.batch_first, retry_after_s=1.0)
        else:
            result = task.result()
        for offset in result.done:
            self._tracker.done(tp, offset, part.generation)
        if tp not in consumer.assignment():
            return
        if result.retry_from is None:
            if tp not in self.bad_batches.halted and part.resume_at is None:
                consumer.resume(tp)
            return
        self._rewind(consumer, tp, part, result.retry_from, result.retry_after_s)

    def _rewind(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        part: Partition,
        offset: int,
        after_s: float,
    ) -> None:
        """Fetch ``tp`` again from ``offset`` after ``after_s``. Records fetched behind it are
        dropped (they stay unfinished in the tracker meanwhile, so nothing past them is
        committed)."""
        part.buffer.clear()
        consumer.pause(tp)
        consumer.seek(tp, offset)
        part.received_next = offset
        part.resume_at = time.monotonic() + max(after_s, 0.0)

    async def _unreadable(self, consumer: AIOKafkaConsumer, error: Exception) -> None:
        """``getmany`` raised: find the undecodable batch among the flowing partitions, take
        the records before it, then dead-letter it and move on or stop there; re-raise when
        no partition holds one (the error is something else)."""
        received = {
            tp: part.received_next
            for tp, part in self._parts.items()
            if part.received_next is not None
        }
        await rewind_lost(consumer, received)
        flowing = consumer.assignment() - consumer.paused()
        found = await self.bad_batches.find(consumer, flowing)
        if not found:
            raise error
        for tp, result in found:
            assert result.bad is not None
            self._accept(tp, result.records)
            if self.bad_batches.tolerant:
                await self._skip(consumer, tp, result.bad)
            else:
                self.bad_batches.halt(tp, result.bad)
                consumer.pause(tp)

    async def _skip(self, consumer: AIOKafkaConsumer, tp: TopicPartition, bad: BadBatch) -> None:
        """Dead-letter ``bad`` (unless this generation already did) and seek past it; if the
        dead letter cannot be written, stay put and try again after a pause."""
        fresh = [o for o in sorted({bad.first, bad.last}) if self._tracker.track(tp, o)]
        if fresh and not await self.bad_batches.dead_letter(tp, bad):
            await asyncio.sleep(self._error_backoff_s)
            return
        generation = self._tracker.generation_of(tp)
        for offset in fresh:
            self._tracker.done(tp, offset, generation)
        consumer.seek(tp, bad.last + 1)
        self._parts[tp].received_next = bad.last + 1

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        for tp, part in self._parts.items():
            if part.resume_at is not None and part.resume_at <= now:
                part.resume_at = None
                consumer.resume(tp)

    def generation_of(self, tp: TopicPartition) -> int | None:
        """The generation ``tp``'s records are tracked under now (None when it is not ours)."""
        return self._tracker.generation_of(tp)

    def retry(
        self, tp: TopicPartition, offset: int, generation: int | None, after_s: float
    ) -> None:
        """Work a handler kept going after its batch returned failed: seek ``tp`` back to
        ``offset`` and fetch it again after ``after_s`` (a ``retry_from`` that came late).
        Ignored for a partition of another generation: its new owner fetches it anyway."""
        part = self._parts.get(tp)
        consumer = self._consumer
        if part is None or consumer is None or self._tracker.generation_of(tp) != generation:
            return
        self._rewind(consumer, tp, part, offset, after_s)

    def complete(self, tp: TopicPartition, offsets: Iterable[int], generation: int | None) -> None:
        """Offsets a handler left out of ``done`` (held back) are final now. Ignored for a
        partition of another generation: its records are fetched again by their new owner."""
        for offset in offsets:
            self._tracker.done(tp, offset, generation)

    # -- rebalance and shutdown ----------------------------------------------------------------

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:  # aiokafka calls the listener with nothing before the first join
            return
        self.revocations += 1
        await self._drain(self._drain_timeout(), only=revoked)
        for tp in revoked:
            part = self._parts.pop(tp, None)
            if part is not None and part.task is not None:
                part.task.cancel()
        self.bad_batches.forget(revoked)
        last = self._tracker.revoke(revoked)
        if self._consumer is not None:
            await self._commits.offsets(self._consumer, last)
        log.info(
            "consumer.revoked", group=self._group, partitions=sorted(p.partition for p in revoked)
        )

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assignments += 1
        self.joined.set()
        self._tracker.assign(assigned)
        for tp in assigned:
            self._parts[tp] = Partition()
        log.info(
            "consumer.assigned", group=self._group, partitions=sorted(p.partition for p in assigned)
        )

    async def _drain(self, timeout_s: float, only: Iterable[TopicPartition] | None = None) -> None:
        """Let in-flight batches finish (bounded); buffered, undispatched records are dropped
        from memory and stay uncommitted, so they are fetched again later."""
        self._draining = True
        try:
            await self._drain_batches(timeout_s, only)
        finally:
            self._draining = False

    async def _drain_batches(self, timeout_s: float, only: Iterable[TopicPartition] | None) -> None:
        started = time.monotonic()
        wanted = set(only) if only is not None else set(self._parts)
        parts = {tp: p for tp, p in self._parts.items() if tp in wanted}
        for part in parts.values():
            part.buffer.clear()
            part.resume_at = None
        tasks = [p.task for p in parts.values() if p.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        consumer = self._consumer
        for tp, part in parts.items():
            if part.task is None:
                continue
            if part.task.done() and consumer is not None:
                self._finish(consumer, tp, part)
            else:
                log.warning("drain.timeout", topic=tp.topic, partition=tp.partition)
                part.task.cancel()
        if self._on_drain is not None:
            left = max(timeout_s - (time.monotonic() - started), 0.0)
            await self._on_drain(left, set(only) if only is not None else None)

    async def _cancel_all(self) -> None:
        tasks = [p.task for p in self._parts.values() if p.task is not None]
        await cancel_all(tasks)
        await self._commits.cancel()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what is finished before a partition moves to another member."""

    def __init__(self, loop: ConsumeLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._loop._on_assigned(set(assigned))
