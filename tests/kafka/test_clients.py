"""A Kafka client whose start fails is stopped again, so it leaves no socket open behind it."""

from __future__ import annotations

import gc
import warnings

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from leadgate.kafka.broker import free_port
from leadgate.kafka.clients import start_or_stop
from leadgate.kafka.deadletter_reader import DeadLetterReader
from leadgate.settings import KafkaSettings


def _unclosed_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning) and "Unclosed AIOKafkaConsumer" in str(w.message)
    ]


async def _fail_to_start(*, guarded: bool) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{free_port()}")
    start = start_or_stop(consumer) if guarded else consumer.start()
    with pytest.raises(KafkaConnectionError):
        await start


async def test_a_failed_start_stops_the_consumer() -> None:
    """With no broker at the address, ``start_or_stop`` raises the connection error and the
    consumer is closed: collecting it warns nothing. A bare ``start()`` leaves it open (the
    same check sees the warning), which is what the helper is for."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await _fail_to_start(guarded=True)
        gc.collect()
        guarded = _unclosed_warnings(caught)
        await _fail_to_start(guarded=False)
        gc.collect()
        bare = _unclosed_warnings(caught)
    assert guarded == []
    assert len(bare) == 1


async def test_the_dead_letter_reader_closes_its_consumer_when_kafka_is_unreachable() -> None:
    """``leadgate dlq`` against a broker that is not there: the error goes up, nothing is left
    open."""
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KafkaConnectionError):
            async with DeadLetterReader(settings):
                pass
        gc.collect()
    assert _unclosed_warnings(caught) == []
