"""The callback worker (consumer group ``outcomes.callback_group``): every outcome on
``leadgate.outcomes`` POSTed to ``outcomes.callback_url``, signed (``outreach/callbacks.py``).

Records of one partition go out in order, one at a time. A failed POST (any non-2xx, a timeout,
a refused connection) seeks the partition back to that record and tries again after
``next_delay`` (exponential with full jitter from ``callback_backoff_base_s`` up to
``callback_backoff_cap_s``); the poll loop never sleeps. Once a record has failed for
``callback_window_s`` it goes to the dead-letter topic (stage ``callback``, reason
``retry_window_exhausted``) and the partition moves on: ``leadgate dlq replay`` puts it back on
``leadgate.outcomes`` and it is posted again. The window is counted from the first failure this
process saw; a restart starts it again (a receiver that is down gets more tries, never fewer).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiokafka import TopicPartition

from leadgate.domain.reasons import DeadLetterReason
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import CALLBACKS, DEAD_LETTERS
from leadgate.outreach.backoff import next_delay
from leadgate.outreach.callbacks import CallbackPoster
from leadgate.settings import Settings
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record

log = get_logger(__name__)


@dataclass
class _Failing:
    """The record at the head of a partition that keeps failing."""

    offset: int
    first_failure: float
    attempts: int = 0


def _outcome_id(value: bytes | None) -> str | None:
    """The outcome's id (the ``webhook-id``), or None for a record that is no outcome."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


class CallbackWorker:
    """Posts outcomes to the configured callback; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        poster: CallbackPoster,
        dead_letters: DeadLetterWriter,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings.outcomes
        self._poster = poster
        self._dead_letters = dead_letters
        self._clock = clock
        self._rand = rand
        self._failing: dict[TopicPartition, _Failing] = {}
        kafka = settings.kafka
        self.loop = ConsumeLoop(
            kafka,
            topic=kafka.outcomes_topic,
            group=self._settings.callback_group,
            handler=self.handle,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain and commit."""
        await self.loop.run(stop)

    async def handle(self, tp: TopicPartition, records: list[Record]) -> BatchResult:
        """Post the batch's outcomes in order; stop at the first that must be retried."""
        done: list[int] = []
        for record in records:
            identifier = _outcome_id(record.value)
            if identifier is None:
                await self._dead_letter(record, str(DeadLetterReason.DESERIALIZE), attempts=1)
                done.append(record.offset)
                continue
            result = await self._poster.post(identifier, bytes(record.value))
            CALLBACKS.labels(result=result.reason).inc()
            if result.delivered:
                self._failing.pop(tp, None)
                done.append(record.offset)
                continue
            delay = await self._failed(tp, record, result.reason, result.status)
            if delay is None:
                done.append(record.offset)
                continue
            return BatchResult(done=tuple(done), retry_from=record.offset, retry_after_s=delay)
        return BatchResult(done=tuple(done))

    async def _failed(
        self, tp: TopicPartition, record: Record, why: str, status: int | None
    ) -> float | None:
        """Seconds until the next try, or None once the record is dead-lettered."""
        now = self._clock()
        failing = self._failing.get(tp)
        if failing is None or failing.offset != record.offset:
            failing = self._failing[tp] = _Failing(record.offset, now)
        failing.attempts += 1
        if now - failing.first_failure >= self._settings.callback_window_s:
            await self._dead_letter(
                record,
                str(DeadLetterReason.RETRY_WINDOW_EXHAUSTED),
                attempts=failing.attempts,
                status=status,
                first_failure=failing.first_failure,
            )
            self._failing.pop(tp, None)
            log.warning("callback.dead_lettered", result=why, attempts=failing.attempts)
            return None
        delay = next_delay(
            failing.attempts,
            None,
            base=self._settings.callback_backoff_base_s,
            cap=self._settings.callback_backoff_cap_s,
            rand=self._rand,
        )
        log.info("callback.retrying", result=why, attempt=failing.attempts, next_in_s=delay)
        return delay

    async def _dead_letter(
        self,
        record: Record,
        reason: str,
        *,
        attempts: int,
        status: int | None = None,
        first_failure: float | None = None,
    ) -> None:
        ack = await self._dead_letters.send(
            record,
            stage="callback",
            reason=reason,
            status=status,
            attempts=attempts,
            first_failure=first_failure if first_failure is not None else self._clock(),
        )
        await ack
        DEAD_LETTERS.labels(stage="callback", reason=reason).inc()
