"""The offset tracker never commits past an unfinished record (docs/reliability.md P17)."""

from __future__ import annotations

from aiokafka import TopicPartition
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from leadgate.workers.offsets import OffsetTracker

TPS = (TopicPartition("t", 0), TopicPartition("t", 1))
# A log with gaps (compaction, transaction markers): every seventh offset is absent.
LOG = tuple(o for o in range(400) if o % 7 != 3)


def _next_at_or_after(offset: int) -> int | None:
    return next((o for o in LOG if o >= offset), None)


class ConsumerModel(RuleBasedStateMachine):
    """A worker's life: fetch, finish out of order, fail and seek back, lose and regain
    partitions, finish stale work late, commit; the tracker must keep the group's committed
    offsets at or below every unfinished record and never lose a record."""

    work = Bundle("work")

    def __init__(self) -> None:
        super().__init__()
        self.tracker = OffsetTracker()
        self.owned = set(TPS)
        self.position = dict.fromkeys(TPS, 0)  # next offset the consumer fetches
        self.group_committed = dict.fromkeys(TPS, 0)
        self.unfinished: dict[TopicPartition, set[int]] = {tp: set() for tp in TPS}
        self.final: dict[TopicPartition, set[int]] = {tp: set() for tp in TPS}  # this generation
        self.ever_final: dict[TopicPartition, set[int]] = {tp: set() for tp in TPS}
        self.tracked_high: dict[TopicPartition, int] = dict.fromkeys(TPS, -1)
        self.last_committable: dict[tuple[TopicPartition, int], int] = {}

    @rule(target=work, tp=st.sampled_from(TPS), count=st.integers(1, 6))
    def fetch(self, tp: TopicPartition, count: int) -> list[tuple[TopicPartition, int, int]]:
        """Fetch up to ``count`` records of ``tp``; returns the new work items."""
        if tp not in self.owned:
            return []
        items: list[tuple[TopicPartition, int, int]] = []
        offset = _next_at_or_after(self.position[tp])
        while offset is not None and len(items) < count:
            tracked = self.tracker.track(tp, offset)
            assert tracked == (offset not in self.final[tp])
            generation = self.tracker.generation_of(tp)
            assert generation is not None
            if tracked:
                self.unfinished[tp].add(offset)
                items.append((tp, offset, generation))
            self.tracked_high[tp] = max(self.tracked_high[tp], offset)
            self.position[tp] = offset + 1
            offset = _next_at_or_after(offset + 1)
        return items

    @rule(items=consumes(work), pick=st.integers(0, 5))
    def finish(self, items: list[tuple[TopicPartition, int, int]], pick: int) -> None:
        """One item of a batch reaches its final outcome (possibly from a stale generation)."""
        if not items:
            return
        tp, offset, generation = items[pick % len(items)]
        current = tp in self.owned and self.tracker.generation_of(tp) == generation
        accepted = self.tracker.done(tp, offset, generation)
        assert accepted == (current and offset in self.unfinished[tp])
        if accepted:
            self.unfinished[tp].discard(offset)
            self.final[tp].add(offset)
            self.ever_final[tp].add(offset)

    @rule(tp=st.sampled_from(TPS))
    def fail_and_seek_back(self, tp: TopicPartition) -> None:
        """A retriable failure: the consumer seeks back to the lowest unfinished record."""
        if tp in self.owned and self.unfinished[tp]:
            self.position[tp] = min(self.unfinished[tp])

    @rule(tp=st.sampled_from(TPS))
    def commit(self, tp: TopicPartition) -> None:
        """The loop commits what is due."""
        due = self.tracker.to_commit()
        self._check_commit(due)
        self.tracker.mark_committed(due)
        for partition, offset in due.items():
            self.group_committed[partition] = max(self.group_committed[partition], offset)

    @precondition(lambda self: bool(self.owned))
    @rule(tp=st.sampled_from(TPS))
    def revoke(self, tp: TopicPartition) -> None:
        """A rebalance takes ``tp`` away; its last committable offset is committed."""
        if tp not in self.owned:
            return
        last = self.tracker.revoke([tp])
        self._check_commit(last)
        if tp in last:
            self.group_committed[tp] = last[tp]
        self.owned.discard(tp)
        self.unfinished[tp] = set()
        self.final[tp] = set()
        self.tracked_high[tp] = -1
        assert self.tracker.generation_of(tp) is None

    @rule(tp=st.sampled_from(TPS))
    def assign(self, tp: TopicPartition) -> None:
        """A rebalance gives ``tp`` (back); fetching resumes at the group's committed offset."""
        if tp in self.owned:
            return
        self.tracker.assign([tp])
        self.owned.add(tp)
        self.position[tp] = self.group_committed[tp]

    def _check_commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            assert tp in self.owned
            if self.unfinished[tp]:
                assert offset <= min(self.unfinished[tp])
            # No loss: everything below the committed offset was finished at least once.
            missing = [o for o in LOG if o < offset and o not in self.ever_final[tp]]
            assert not missing, f"{tp} committed {offset} past unfinished {missing[:3]}"

    @invariant()
    def committable_stays_below_unfinished_and_never_goes_back(self) -> None:
        """``committable`` ≤ min(unfinished), monotonic per generation, and complete when idle."""
        committable = self.tracker.committable()
        self._check_commit(committable)
        for tp, offset in committable.items():
            generation = self.tracker.generation_of(tp)
            assert generation is not None
            key = (tp, generation)
            assert offset >= self.last_committable.get(key, offset)
            self.last_committable[key] = offset
            if not self.unfinished[tp] and self.tracked_high[tp] >= 0:
                assert offset == self.tracked_high[tp] + 1
        assert self.tracker.in_flight() == sum(len(u) for u in self.unfinished.values())


ConsumerModel.TestCase.settings = settings(
    max_examples=600,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOffsetTrackerStateMachine = ConsumerModel.TestCase


def test_out_of_order_completion_commits_the_lowest_unfinished() -> None:
    """Finishing later records first does not let the commit skip an earlier one."""
    tracker = OffsetTracker()
    tp = TPS[0]
    for offset in (10, 11, 12):
        assert tracker.track(tp, offset)
    tracker.done(tp, 12)
    tracker.done(tp, 11)
    assert tracker.committable() == {tp: 10}
    tracker.done(tp, 10)
    assert tracker.to_commit() == {tp: 13}
    tracker.mark_committed({tp: 13})
    assert tracker.to_commit() == {}


def test_a_stale_completion_after_a_rebalance_is_ignored() -> None:
    """Work finished after its partition was revoked and re-fetched cannot mark the new copy."""
    tracker = OffsetTracker()
    tp = TPS[0]
    tracker.track(tp, 5)
    old = tracker.generation_of(tp)
    assert tracker.revoke([tp]) == {tp: 5}
    tracker.assign([tp])
    tracker.track(tp, 5)
    assert not tracker.done(tp, 5, old)
    assert tracker.committable() == {tp: 5}
    assert tracker.done(tp, 5, tracker.generation_of(tp))
    assert tracker.committable() == {tp: 6}
