"""Record batches a consumer cannot decode: an incident, not a silent stop nor a crash loop.

When ``getmany`` raises while decoding (see :mod:`leadgate.kafka.batches`), the consume loop
asks :meth:`BadBatches.find` which of its flowing partitions holds the batch: it reads each
one's bytes at the consumer's position itself and hands back the records that decode before the
bad batch (they are processed as usual) and the bad batch's offsets and raw bytes. Then, like
Kafka Connect's ``errors.tolerance`` (``kafka.errors_tolerance``):

- ``all`` (default): the batch is dead-lettered (raw bytes, topic, partition, first and last
  offset, ``reason=undecodable_batch``, the detail), counted, logged as an error naming
  topic/partition/offsets, and the loop seeks past it once the dead letter is acknowledged;
- ``none``: the partition stops at the batch. The error is logged, ``leadgate_partition_halted``
  is 1, readiness reports it (:attr:`BadBatches.halted`), and nothing at or past the batch is
  committed, so a restart (with a fixed client, or after the batch is dealt with) resumes there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from leadgate.domain.reasons import DeadLetterReason
from leadgate.kafka.batches import BadBatch, Scan, find_undecodable
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import DEAD_LETTERS, PARTITION_HALTED, UNDECODABLE_BATCHES
from leadgate.settings import KafkaSettings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Halt:
    """A partition stopped at a batch it cannot decode."""

    group: str
    topic: str
    partition: int
    offset: int
    last_offset: int
    detail: str

    def describe(self) -> str:
        """One line for people (readiness, inspector)."""
        return (
            f"{self.topic}[{self.partition}] stopped at offsets {self.offset}-{self.last_offset} "
            f"({self.detail}); group {self.group}"
        )


class BadBatches:
    """One consume loop's handling of undecodable batches; see the module docstring."""

    def __init__(
        self, settings: KafkaSettings, group: str, dead_letters: DeadLetterWriter | None
    ) -> None:
        self._settings = settings
        self._group = group
        self._dead_letters = dead_letters
        self.halted: dict[TopicPartition, Halt] = {}

    @property
    def tolerant(self) -> bool:
        """True when bad batches are dead-lettered and skipped (``errors_tolerance=all``)."""
        return self._settings.errors_tolerance == "all" and self._dead_letters is not None

    async def find(
        self, consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition]
    ) -> list[tuple[TopicPartition, Scan]]:
        """The partitions among ``tps`` whose next batches include one that does not decode."""
        return await find_undecodable(
            consumer,
            tps,
            bootstrap_servers=self._settings.bootstrap_servers,
            request_timeout_ms=self._settings.request_timeout_ms,
        )

    async def dead_letter(self, tp: TopicPartition, bad: BadBatch) -> bool:
        """Write the batch to the dead-letter topic and wait for the ack; False if that failed
        (the loop then tries again later: nothing is skipped before it is recorded)."""
        assert self._dead_letters is not None
        try:
            await self._dead_letters.send_batch(
                topic=tp.topic,
                partition=tp.partition,
                first=bad.first,
                last=bad.last,
                raw=bad.raw,
                detail=bad.detail,
            )
        except KafkaError as exc:
            log.exception(
                "batch.dead_letter_failed",
                topic=tp.topic,
                partition=tp.partition,
                offset=bad.first,
                error=type(exc).__name__,
            )
            return False
        reason = str(DeadLetterReason.UNDECODABLE_BATCH)
        DEAD_LETTERS.labels(stage="consume", reason=reason).inc()
        self._incident("batch.undecodable", tp, bad, "dead_lettered", action="dead_lettered")
        return True

    def halt(self, tp: TopicPartition, bad: BadBatch) -> None:
        """Stop ``tp`` at ``bad``: remember it, raise the gauge, say so once."""
        halt = Halt(self._group, tp.topic, tp.partition, bad.first, bad.last, bad.detail)
        if self.halted.get(tp) == halt:
            return
        self.halted[tp] = halt
        PARTITION_HALTED.labels(group=self._group, topic=tp.topic, partition=str(tp.partition)).set(
            1
        )
        self._incident(
            "partition.halted",
            tp,
            bad,
            "halted",
            hint="kafka.errors_tolerance=none: this partition waits here; set it to 'all' to "
            "dead-letter the batch and move on",
        )

    def _incident(
        self, event: str, tp: TopicPartition, bad: BadBatch, counted_as: str, **fields: str
    ) -> None:
        """Count the batch under ``counted_as`` and log ``event`` as an error naming its range."""
        UNDECODABLE_BATCHES.labels(topic=tp.topic, detail=bad.detail, action=counted_as).inc()
        batch = {"topic": tp.topic, "partition": tp.partition, "offset": bad.first}
        batch |= {"last_offset": bad.last, "detail": bad.detail, "error": bad.error}
        log.error(event, **batch, group=self._group, **fields)

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Partitions left this member: their halts are the next owner's to find."""
        for tp in tps:
            if self.halted.pop(tp, None) is not None:
                PARTITION_HALTED.labels(
                    group=self._group, topic=tp.topic, partition=str(tp.partition)
                ).set(0)
