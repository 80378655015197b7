"""The role table: every role names workers that have a factory, and ``all`` runs every one;
starting workers freezes the startup objects until they stop."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.runtime.roles import FACTORIES, Role, names_of, workers
from leadgate.settings import KafkaSettings, Settings


def test_every_role_but_all_is_one_worker_with_a_factory() -> None:
    """``leadgate run --role X`` builds exactly worker X, for every X the CLI offers."""
    for role in Role:
        if role is not Role.ALL:
            assert names_of(role) == (role.value,)
            assert role.value in FACTORIES


def test_all_runs_every_worker() -> None:
    """``--role all`` (and ``leadgate dev``) runs every worker in the factory table."""
    assert set(names_of(Role.ALL)) == set(FACTORIES)
    assert set(FACTORIES) == {role.value for role in Role if role is not Role.ALL}


async def test_started_workers_freeze_startup_objects_and_release_them_on_stop(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """While workers run, what starting made is kept out of the collector's full passes (frozen);
    once they stop nothing stays frozen, so a process that starts workers again does not keep
    every start's objects."""
    gc.unfreeze()
    settings = Settings(state_dir=tmp_path / "state", kafka=kafka_settings)
    await ensure_topics(
        kafka_settings.bootstrap_servers, topics_of(kafka_settings), kafka_settings.partitions
    )
    async with workers(settings, Role.PROCESSOR, asyncio.Event()):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
