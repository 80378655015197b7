"""Which offsets are safe to commit: the lowest unfinished record per partition.

A worker fetches records, works on them concurrently and finishes them out of order (the
delivery worker coalesces per email; a retriable failure pauses one partition while others flow).
Kafka's committed offset means "everything before this is final", so per partition we may commit
only up to the lowest record whose outcome is not final yet (docs/reliability.md P17)::

    tracker.track(tp, record.offset)        # fetched: now unfinished
    tracker.done(tp, record.offset, gen)    # delivered, dropped, or dead-lettered and acked
    await consumer.commit(tracker.to_commit()); tracker.mark_committed(...)

Partitions come and go with rebalances. Each assignment of a partition is a *generation*: a
revoke forgets the partition, and a completion from an older generation (work that was in
flight when the partition was taken away, and re-fetched since) is ignored, so it cannot mark
the new generation's copy of that offset final. Within a generation the committable offset
never moves backwards: a record re-fetched after a seek-back whose outcome is already final is
reported as such (``track`` returns False) instead of becoming unfinished again.

Pure: no IO, no clock; the consumer loop calls it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import TopicPartition


@dataclass(slots=True)
class _Partition:
    """The bookkeeping of one partition in one generation."""

    generation: int
    floor: int  # every offset below is final (or was never ours to process)
    unfinished: set[int] = field(default_factory=set)
    heap: list[int] = field(default_factory=list)  # unfinished, lazily pruned
    finished: set[int] = field(default_factory=set)  # final offsets >= floor
    high: int = -1  # highest offset tracked
    committed: int | None = None

    def lowest_unfinished(self) -> int | None:
        while self.heap and self.heap[0] not in self.unfinished:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None

    def position(self) -> int:
        """The offset to commit: the lowest unfinished, else one past the highest tracked."""
        lowest = self.lowest_unfinished()
        position = max(self.high + 1, self.floor) if lowest is None else lowest
        if position > self.floor:
            self.floor = position
            self.finished = {o for o in self.finished if o >= position}
        return self.floor


class OffsetTracker:
    """Per-partition bookkeeping of unfinished records and the offsets safe to commit."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        """The newest generation handed out (grows on every assign and revoke)."""
        return self._generation

    def generation_of(self, tp: TopicPartition) -> int | None:
        """The generation ``tp`` is tracked under, or None when it is not ours."""
        state = self._partitions.get(tp)
        return None if state is None else state.generation

    def assign(self, tps: Iterable[TopicPartition]) -> None:
        """Partitions were (re)assigned: start a fresh generation for them."""
        self._generation += 1
        for tp in tps:
            self._partitions.pop(tp, None)

    def track(self, tp: TopicPartition, offset: int) -> bool:
        """A record was fetched. True when it is now unfinished (process it, then ``done``);
        False when its outcome is already final in this generation (a re-fetch after a
        seek-back): skip it, it needs no ``done``."""
        state = self._partitions.get(tp)
        if state is None:
            self._generation += 1
            state = self._partitions[tp] = _Partition(generation=self._generation, floor=offset)
        if offset < state.floor or offset in state.finished:
            return False
        if offset not in state.unfinished:
            state.unfinished.add(offset)
            heapq.heappush(state.heap, offset)
        state.high = max(state.high, offset)
        return True

    def done(self, tp: TopicPartition, offset: int, generation: int | None = None) -> bool:
        """The record's outcome is final. Ignored (returns False) when the partition is no longer
        ours, the generation is stale, or the offset is not unfinished."""
        state = self._partitions.get(tp)
        if state is None or (generation is not None and generation != state.generation):
            return False
        if offset not in state.unfinished:
            return False
        state.unfinished.discard(offset)
        state.finished.add(offset)
        return True

    def unfinished(self, tp: TopicPartition) -> int:
        """How many records of ``tp`` are still in flight."""
        state = self._partitions.get(tp)
        return 0 if state is None else len(state.unfinished)

    def in_flight(self) -> int:
        """How many records of all partitions are still in flight."""
        return sum(len(state.unfinished) for state in self._partitions.values())

    def committable(self) -> dict[TopicPartition, int]:
        """Per tracked partition, the offset safe to commit (Kafka's "next record to read")."""
        return {tp: state.position() for tp, state in self._partitions.items()}

    def to_commit(self) -> dict[TopicPartition, int]:
        """Only the partitions whose committable offset moved since ``mark_committed``."""
        due: dict[TopicPartition, int] = {}
        for tp, state in self._partitions.items():
            position = state.position()
            if state.committed is None or position > state.committed:
                due[tp] = position
        return due

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        """The broker acknowledged a commit of these offsets."""
        for tp, offset in offsets.items():
            state = self._partitions.get(tp)
            if state is not None and (state.committed is None or offset > state.committed):
                state.committed = offset

    def revoke(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Forget these partitions; returns their last committable offsets (commit them on
        revoke, after draining in-flight work, if the group still lets you)."""
        self._generation += 1
        last: dict[TopicPartition, int] = {}
        for tp in tps:
            state = self._partitions.pop(tp, None)
            if state is not None:
                last[tp] = state.position()
        return last
