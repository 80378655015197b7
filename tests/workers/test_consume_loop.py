"""The shared consume loop on the embedded broker: commits, seek-back retries, rebalances."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from aiokafka import TopicPartition

from leadgate.settings import KafkaSettings
from leadgate.workers.consumer import BatchResult, ConsumeLoop, Record
from tests.plugins.streams import lag, produce, wait_for


async def _produce_numbers(settings: KafkaSettings, count: int, start: int = 0) -> None:
    await produce(
        settings.bootstrap_servers,
        settings.events_topic,
        ((str(i % 7).encode(), str(i).encode()) for i in range(start, start + count)),
    )


def _loop(settings: KafkaSettings, handler: Callable[..., object], **kw: object) -> ConsumeLoop:
    return ConsumeLoop(
        settings,
        topic=settings.events_topic,
        group=settings.processor_group,
        handler=handler,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


async def test_every_record_handled_once_and_committed(kafka_settings: KafkaSettings) -> None:
    """All records reach the handler once and the group's committed offsets reach the end."""
    seen: Counter[str] = Counter()

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        seen.update(r.value.decode() for r in records)
        return BatchResult(done=tuple(r.offset for r in records))

    await _produce_numbers(kafka_settings, 200)
    stop = asyncio.Event()
    loop = _loop(kafka_settings, handler)
    task = asyncio.create_task(loop.run(stop))
    await wait_for(lambda: _true(len(seen) == 200), timeout_s=30)
    stop.set()
    await task
    assert set(seen.values()) == {1}
    assert (
        await lag(
            kafka_settings.bootstrap_servers,
            kafka_settings.processor_group,
            kafka_settings.events_topic,
        )
        == 0
    )


async def test_retry_seeks_back_without_redoing_finished_records(
    kafka_settings: KafkaSettings,
) -> None:
    """A handler that cannot finish one record gets it again after the delay; records it had
    finished after that one are not handed over twice, and the member never leaves the group."""
    calls: Counter[str] = Counter()
    failures = {"5": 2}

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        done: list[int] = []
        retry_from: int | None = None
        for record in records:
            value = record.value.decode()
            calls[value] += 1
            if failures.get(value, 0) > 0:
                failures[value] -= 1
                retry_from = record.offset if retry_from is None else retry_from
            else:
                done.append(record.offset)
        return BatchResult(done=tuple(done), retry_from=retry_from, retry_after_s=0.3)

    await produce(
        kafka_settings.bootstrap_servers,
        kafka_settings.events_topic,
        [(b"same-key", str(i).encode()) for i in range(10)],
    )
    stop = asyncio.Event()
    loop = _loop(kafka_settings, handler)
    task = asyncio.create_task(loop.run(stop))
    await wait_for(
        lambda: _true(len(calls) == 10 and failures["5"] == 0 and calls["5"] == 3), timeout_s=30
    )
    await wait_for(lambda: _lag_is_zero(kafka_settings), timeout_s=15)
    stop.set()
    await task
    assert calls["5"] == 3
    assert all(calls[str(i)] == 1 for i in range(10) if i != 5)
    assert loop.revocations == 0
    assert loop.assignments == 1


async def test_records_fetched_behind_a_retried_batch_come_again_in_order(
    kafka_settings: KafkaSettings,
) -> None:
    """While a batch is in flight its partition keeps fetching; when that batch asks to be
    retried, the records fetched behind it are handed over again after it, in offset order,
    and every record ends up finished exactly once."""
    release = asyncio.Event()
    handed: list[int] = []
    finished: Counter[int] = Counter()
    failed = False

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        nonlocal failed
        values = [int(r.value.decode()) for r in records]
        handed.extend(values)
        if not failed:  # the first batch: hold it until more records were produced, then fail
            await release.wait()
            failed = True
            return BatchResult(done=(), retry_from=records[0].offset, retry_after_s=0.2)
        finished.update(values)
        return BatchResult(done=tuple(r.offset for r in records))

    await produce(
        kafka_settings.bootstrap_servers,
        kafka_settings.events_topic,
        [(b"same-key", str(i).encode()) for i in range(5)],
    )
    stop = asyncio.Event()
    loop = _loop(kafka_settings, handler)
    task = asyncio.create_task(loop.run(stop))
    await wait_for(lambda: _true(bool(handed)), timeout_s=30)
    await produce(
        kafka_settings.bootstrap_servers,
        kafka_settings.events_topic,
        [(b"same-key", str(i).encode()) for i in range(5, 20)],
    )
    await asyncio.sleep(0.3)  # let the partition fetch the new records behind the held batch
    release.set()
    await wait_for(lambda: _true(len(finished) == 20), timeout_s=30)
    await wait_for(lambda: _lag_is_zero(kafka_settings), timeout_s=15)
    stop.set()
    await task
    assert set(finished.values()) == {1}
    first = len(handed) - 20
    assert handed[first:] == list(range(20))


async def test_work_finished_after_its_batch_returned_can_rewind_the_partition(
    kafka_settings: KafkaSettings,
) -> None:
    """A handler that finishes its records later (``complete``) and then finds one batch failed
    (``retry``) gets that batch and everything after it again, in order; nothing past the
    failure is committed before it is finished, and at the end every record is finished."""
    handed: list[int] = []
    finished: Counter[int] = Counter()
    work: list[asyncio.Task[None]] = []
    failed = False

    async def later(tp: TopicPartition, records: list[Record], generation: int | None) -> None:
        nonlocal failed
        await asyncio.sleep(0.05)
        if not failed:
            failed = True
            loop.retry(tp, records[0].offset, generation, 0.2)
            return
        finished.update(int(r.value.decode()) for r in records)
        loop.complete(tp, (r.offset for r in records), generation)

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        handed.extend(int(r.value.decode()) for r in records)
        work.append(asyncio.create_task(later(tp, records, loop.generation_of(tp))))
        return BatchResult(done=())

    await produce(
        kafka_settings.bootstrap_servers,
        kafka_settings.events_topic,
        [(b"same-key", str(i).encode()) for i in range(10)],
    )
    stop = asyncio.Event()
    loop = _loop(kafka_settings, handler)
    task = asyncio.create_task(loop.run(stop))
    await wait_for(lambda: _true(len(finished) == 10), timeout_s=30)
    await wait_for(lambda: _lag_is_zero(kafka_settings), timeout_s=15)
    stop.set()
    await task
    assert failed
    assert handed[-10:] == list(range(10))  # the redo, in order


async def test_shutdown_commits_and_restart_resumes(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    """After a clean stop, a new member of the group starts exactly where the first stopped."""
    from leadgate.kafka.broker import ensure_topics, topics_of

    # the embedded broker only rebalances the departed member away after its session timeout
    kafka_settings = make_kafka_settings(session_timeout_ms=6000)
    await ensure_topics(kafka_settings.bootstrap_servers, topics_of(kafka_settings), 3)
    seen: Counter[str] = Counter()

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        seen.update(r.value.decode() for r in records)
        return BatchResult(done=tuple(r.offset for r in records))

    await _produce_numbers(kafka_settings, 100)
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(kafka_settings, handler).run(stop))
    await wait_for(lambda: _true(len(seen) == 100), timeout_s=30)
    stop.set()
    await task
    await _produce_numbers(kafka_settings, 50, start=100)
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(kafka_settings, handler).run(stop))
    await wait_for(lambda: _true(len(seen) == 150), timeout_s=30)
    stop.set()
    await task
    assert set(seen.values()) == {1}


async def test_rebalance_commits_on_revoke_so_nothing_is_handled_twice(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    """When a second member joins mid-stream, the first drains and commits on revoke: every
    record is handled exactly once across both members."""
    from leadgate.kafka.broker import ensure_topics, topics_of

    settings = make_kafka_settings(partitions=4)
    await ensure_topics(settings.bootstrap_servers, topics_of(settings), 4)
    seen: Counter[str] = Counter()

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        await asyncio.sleep(0.01)
        seen.update(r.value.decode() for r in records)
        return BatchResult(done=tuple(r.offset for r in records))

    stop = asyncio.Event()
    first = _loop(settings, handler)
    second = _loop(settings, handler)
    tasks = [asyncio.create_task(first.run(stop))]
    await _produce_numbers(settings, 200)
    await wait_for(lambda: _true(len(seen) == 200), timeout_s=30)
    tasks.append(asyncio.create_task(second.run(stop)))
    for chunk in range(6):
        await _produce_numbers(settings, 50, start=200 + chunk * 50)
        await asyncio.sleep(0.5)
    await wait_for(lambda: _true(len(seen) == 500), timeout_s=60)
    await wait_for(lambda: _lag_is_zero(settings), timeout_s=30)
    stop.set()
    await asyncio.gather(*tasks)
    assert first.revocations >= 1
    assert set(seen.values()) == {1}


async def _true(value: bool) -> bool:
    return value


async def _lag_is_zero(settings: KafkaSettings) -> bool:
    return (
        await lag(settings.bootstrap_servers, settings.processor_group, settings.events_topic) == 0
    )


async def test_whole_fetches_hand_over_batches_beyond_max_poll_records(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    """With ``whole_fetches`` (the processor's loop) a backlog reaches the handler in batches as
    large as a fetch, not cut at ``max_poll_records``, each record once and in partition order."""
    settings = make_kafka_settings(max_poll_records=50)
    await _produce_numbers(settings, 700)
    sizes: list[int] = []
    offsets: dict[int, list[int]] = {}

    async def handler(tp: TopicPartition, records: list[Record]) -> BatchResult:
        sizes.append(len(records))
        offsets.setdefault(tp.partition, []).extend(r.offset for r in records)
        return BatchResult(done=tuple(r.offset for r in records))

    stop = asyncio.Event()
    task = asyncio.create_task(_loop(settings, handler, whole_fetches=True).run(stop))
    await wait_for(lambda: _true(sum(sizes) >= 700), timeout_s=30)
    stop.set()
    await task
    assert sum(sizes) == 700
    assert all(seen == sorted(set(seen)) for seen in offsets.values())
    assert max(sizes) > 50
