"""The services a process is built from: the state store, the Kafka producer, the presets, the
trace store and the Outreach client. Every command opens them here and nowhere else, so a new
backend (a Redis state store, say) is one change in one function.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer

from leadgate.kafka.producer import make_producer
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import Dispatcher
from leadgate.outreach.handlers import build_dispatcher
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.opening import open_configured_store
from leadgate.store.presets import PresetsHolder
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt
from leadgate.store.traces import TraceStore


async def open_state_store(settings: Settings) -> StateStore:
    """The state store the settings name (Redis when ``state.url`` is set, else SQLite under
    ``state_dir``: :mod:`leadgate.store.opening`); the caller closes it. Fails now, not later,
    when it cannot be opened."""
    return await open_configured_store(settings)


@contextlib.asynccontextmanager
async def state_store(settings: Settings) -> AsyncIterator[StateStore]:
    """:func:`open_state_store`, closed on the way out."""
    store = await open_state_store(settings)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def started_producer(
    settings: Settings, *, client_id: str = "leadgate"
) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer (acks=all), flushed and stopped on the way out."""
    producer = make_producer(settings.kafka, client_id=client_id)
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


def open_presets(settings: Settings) -> PresetsHolder:
    """The configured preset files, loaded now: a bad preset fails before anything starts."""
    return PresetsHolder(settings.pipeline.presets)


def open_trace_store(settings: Settings) -> TraceStore:
    """The inspector's trace store: on disk under ``state_dir`` when the inspector is enabled
    (it has a token), else a small one in memory that nothing feeds."""
    inspector = settings.inspector
    enabled = inspector.token is not None
    return TraceStore(
        settings.state_dir if enabled else None,
        max_events=inspector.max_events,
        max_age_s=inspector.max_age_hours * 3600.0,
        # Forget markers name people by their suppression hash (``store.suppression``).
        person_hash=PersonHasher(load_salt(settings)) if enabled else None,
    )


@contextlib.asynccontextmanager
async def outreach_client(settings: Settings, store: StateStore) -> AsyncIterator[OutreachClient]:
    """The Outreach client of ``settings`` (tokens in ``store``); its session closes on the way
    out."""
    async with OutreachClient(settings.outreach, store) as client:
        yield client


@contextlib.asynccontextmanager
async def outreach_dispatcher(settings: Settings, store: StateStore) -> AsyncIterator[Dispatcher]:
    """An Outreach client (tokens in ``store``) and the dispatcher of every intent kind over it
    (:mod:`leadgate.outreach.handlers`); the client's session closes on the way out."""
    async with outreach_client(settings, store) as client:
        yield build_dispatcher(client, store, settings.outreach, suppression_list(settings, store))


def suppression_list(settings: Settings, store: StateStore) -> SuppressionList:
    """Privacy's list of forgotten people (salted hashes in ``store``)."""
    return SuppressionList(store, PersonHasher(load_salt(settings)))
