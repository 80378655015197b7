"""The callback worker: outcomes on the topic reach the receiver signed and in order, a failing
receiver is retried with backoff, and an outcome whose window is spent is dead-lettered (and
``dlq replay`` would put it back)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import SecretStr

from leadgate.domain.opportunity import SourceRef
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.outreach.callbacks import CallbackPoster
from leadgate.runtime.services import started_producer
from leadgate.settings import KafkaSettings, OutcomesSettings, Settings
from leadgate.workers.callbacks import CallbackWorker
from leadgate.workers.outcomes import OutcomePublisher
from tests.plugins.callbacks import SECRET, CallbackReceiver
from tests.plugins.streams import read_topic, wait_for


def _settings(kafka: KafkaSettings, url: str, **outcomes: object) -> Settings:
    values: dict[str, object] = {
        "callback_url": url,
        "callback_secret": SecretStr(SECRET),
        "callback_backoff_base_s": 0.05,
        "callback_backoff_cap_s": 0.2,
        **outcomes,
    }
    return Settings(kafka=kafka, outcomes=OutcomesSettings.model_validate(values))


async def _run(
    settings: Settings, until: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0
) -> None:
    """Run a callback worker until ``await until()`` holds."""
    stop = asyncio.Event()
    async with started_producer(settings) as producer, CallbackPoster(settings.outcomes) as poster:
        worker = CallbackWorker(settings, poster, DeadLetterWriter(producer, settings.kafka))
        task = asyncio.create_task(worker.run(stop))
        try:
            await wait_for(until, timeout_s=timeout_s)
        finally:
            stop.set()
            await task


async def _publish(settings: Settings, count: int) -> list[str]:
    """Put ``count`` outcomes of one CRM person on the outcomes topic; their ids, in order."""
    source = SourceRef(system="crm", kind="person", id="P-1")
    async with started_producer(settings) as producer:
        publisher = OutcomePublisher(producer, settings)
        outcomes = [
            publisher.build(source, f"m{i}", status="ok", action="updated",
                            record_type="prospect", record_id=7)
            for i in range(count)
        ]  # fmt: skip
        await publisher.publish(outcomes)
    return [o.id for o in outcomes]


async def test_outcomes_reach_the_receiver_signed_in_order_after_failures(
    kafka_settings: KafkaSettings, callback_receiver: CallbackReceiver
) -> None:
    """Two 503s delay the first outcome; then every outcome arrives once, verified, in order."""
    settings = _settings(kafka_settings, callback_receiver.url)
    ids = await _publish(settings, 3)
    callback_receiver.answers.extend([503, 503])

    async def all_verified() -> bool:
        return len(callback_receiver.verified()) == 3

    await _run(settings, all_verified)
    assert [r.headers["webhook-id"] for r in callback_receiver.verified()] == ids
    assert [r.status for r in callback_receiver.received[:2]] == [503, 503]
    first = callback_receiver.verified()[0].json
    assert first["source"] == {"system": "crm", "type": "person", "id": "P-1"}
    assert first["outreach"]["id"] == 7
    assert await read_topic(settings.kafka.bootstrap_servers, settings.kafka.deadletter_topic) == []


async def test_an_outcome_whose_window_is_spent_is_dead_lettered(
    kafka_settings: KafkaSettings, callback_receiver: CallbackReceiver
) -> None:
    """A receiver that keeps failing past the window: the outcome lands on the dead-letter topic
    with stage callback, reason retry_window_exhausted, and its original topic for replay."""
    settings = _settings(kafka_settings, callback_receiver.url, callback_window_s=0.3)
    (outcome_id,) = await _publish(settings, 1)
    callback_receiver.answers.extend([500] * 1000)
    bootstrap, topic = settings.kafka.bootstrap_servers, settings.kafka.deadletter_topic
    letters: list[Any] = []

    async def dead_lettered() -> bool:
        letters[:] = await read_topic(bootstrap, topic)
        return bool(letters)

    await _run(settings, dead_lettered)
    (letter,) = letters
    headers = {k: bytes(v).decode() for k, v in letter.headers}
    assert headers["leadgate.error.stage"] == "callback"
    assert headers["leadgate.error.reason"] == "retry_window_exhausted"
    assert headers["leadgate.error.topic"] == settings.kafka.outcomes_topic
    assert orjson.loads(letter.value)["id"] == outcome_id
    assert len(callback_receiver.received) >= 2
    assert all(r.signature_ok for r in callback_receiver.received)
