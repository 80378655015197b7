"""What a consume loop hands a handler and takes back: records, ``BatchResult``, the handler
and drain hook types, and the loop's view of one partition (``workers/consumer.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

Record = Any  # aiokafka.ConsumerRecord (untyped library)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a handler did with one batch of one partition.

    ``done`` holds every offset whose outcome is final (delivered, dropped, dead-lettered and
    acknowledged). With ``retry_from`` set, the partition is sought back to that offset and
    resumed after ``retry_after_s``; offsets below it must all be in ``done``.
    """

    done: tuple[int, ...]
    retry_from: int | None = None
    retry_after_s: float = 0.0


BatchHandler = Callable[[TopicPartition, list[Record]], Coroutine[Any, Any, BatchResult]]
# Work a handler keeps going after its batch returned (records left out of ``done``): awaited on
# drain with the seconds left and the partitions drained (None: all), before the commit.
Drained = Callable[[float, set[TopicPartition] | None], Coroutine[Any, Any, None]]


@dataclass
class Partition:
    """The loop's view of one assigned partition."""

    buffer: list[Record] = field(default_factory=list)
    deadline: float = 0.0
    task: asyncio.Task[BatchResult] | None = None
    batch_first: int = 0
    generation: int | None = None
    resume_at: float | None = None
    received_next: int | None = None  # the offset after the last record getmany handed out
