"""Workers never die quietly: a worker or background task killed by an injected fault is named
in an error line with its cause, turns ``/readyz`` to 503, and is restarted with a backoff
(``dev``, ``serve``) or ends the process with exit code 1 (``run``)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import structlog
from pydantic import SecretStr

from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.kafka.traces import TraceConsumer
from leadgate.observability.logging import configure_logging
from leadgate.observability.metrics import REGISTRY
from leadgate.runtime.process import host
from leadgate.runtime.roles import Role, names_of
from leadgate.runtime.supervise import Supervisor, TaskState, WorkerDied
from leadgate.settings import KafkaSettings, Settings, WriteKey
from leadgate.store.presets import PresetReloader
from tests.plugins.events import LEAD_CAPTURE
from tests.plugins.streams import produce, wait_for


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Logs as JSON lines into a buffer (the default configuration comes back afterwards)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(fmt="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers, root.level = saved


def _lines(buffer: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


async def _fault(*_args: object) -> None:
    raise RuntimeError("injected fault")


def _sync_fault(*_args: object) -> None:
    raise RuntimeError("injected fault")


def _settings(tmp_path: Path, make_kafka_settings: Callable[..., KafkaSettings]) -> Settings:
    values = make_kafka_settings().model_dump()
    del values["session_timeout_ms"]  # the embedded broker's short one: quick (re)joins
    return Settings(
        state_dir=tmp_path / "state",
        http_port=0,
        kafka=KafkaSettings(**values),
        collector={"write_keys": (WriteKey(key=SecretStr("wk-supervise-test"), name="web"),)},
        inspector={"token": SecretStr("inspector-token-supervise")},
        pipeline={"presets": (LEAD_CAPTURE,)},
        # configured, so that ``all`` runs the callbacks worker too (nothing listens there)
        outcomes={"callback_url": "http://127.0.0.1:9/outcomes", "callback_secret": SecretStr("s")},
    )


async def _readyz(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url + "/readyz") as response:
        return response.status, await response.json()


async def _state(supervisor: Supervisor, name: str, state: TaskState) -> None:
    async def reached() -> bool:
        return supervisor.health[name].state is state

    await wait_for(reached, timeout_s=30, interval_s=0.01)


@pytest.mark.parametrize("name", names_of(Role.ALL))
async def test_a_dead_worker_is_reported_unready_and_restarted(
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
    log_lines: io.StringIO,
    name: str,
) -> None:
    """As in ``leadgate dev``: the worker's consume loop fails; an error line names it and the
    fault, /readyz answers 503 naming it while it waits for its restart, then a fresh worker
    joins its group, /readyz is 200 again and ``leadgate_worker_restarts`` counted it."""
    settings = _settings(tmp_path, make_kafka_settings)
    await ensure_topics(
        settings.kafka.bootstrap_servers, topics_of(settings.kafka), settings.kafka.partitions
    )
    restarts = REGISTRY.get_sample_value("leadgate_worker_restarts_total", {"worker": name}) or 0
    async with (
        host(settings, role=Role.ALL, http=True, restart=True) as running,
        aiohttp.ClientSession() as session,
    ):
        assert running.http is not None
        assert running.workers is not None
        await running.ready()
        assert (await _readyz(session, running.http.url))[0] == 200
        dying = running.workers.by_name[name]
        dying.loop._step = _fault  # type: ignore[method-assign, assignment]
        await _state(running.supervisor, name, TaskState.RESTARTING)
        status, body = await _readyz(session, running.http.url)
        assert status == 503
        assert body["status"] == "degraded"
        assert any(
            p.startswith(f"{name}: died (RuntimeError: injected fault)") for p in body["problems"]
        )
        (died,) = _lines(log_lines, "worker.died")
        assert (died["worker"], died["error"], died["level"]) == (
            name,
            "RuntimeError: injected fault",
            "error",
        )
        assert died["action"].startswith("restarting in ")
        await _state(running.supervisor, name, TaskState.RUNNING)
        assert running.workers.by_name[name] is not dying
        await running.ready()

        async def ready_again() -> bool:
            return (await _readyz(session, running.http.url))[0] == 200  # type: ignore[union-attr]

        await wait_for(ready_again, timeout_s=30)
        assert _lines(log_lines, "worker.restarted")[0]["worker"] == name
    assert (
        REGISTRY.get_sample_value("leadgate_worker_restarts_total", {"worker": name})
        == restarts + 1
    )


async def test_without_restart_a_dead_worker_ends_the_process_with_1(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path, log_lines: io.StringIO
) -> None:
    """As in ``leadgate run``: the processor's consume loop fails; an error line names it and
    the fault, and the process stops (its partner workers drained) with exit code 1."""
    settings = _settings(tmp_path, make_kafka_settings)
    await ensure_topics(
        settings.kafka.bootstrap_servers, topics_of(settings.kafka), settings.kafka.partitions
    )
    async with host(settings, role=Role.ALL, http=False) as running:
        assert running.workers is not None
        await running.ready()
        running.workers.by_name["processor"].loop._step = _fault  # type: ignore[method-assign, assignment]
        code = await asyncio.wait_for(running.wait(), 30)
    assert code == 1
    (died,) = _lines(log_lines, "worker.died")
    assert (died["worker"], died["error"], died["action"]) == (
        "processor",
        "RuntimeError: injected fault",
        "exiting",
    )
    assert any("WorkerDied" in line["error"] for line in _lines(log_lines, "worker.crashed"))


@pytest.mark.parametrize("task", ["traces.consume", "presets.watch"])
async def test_a_dead_background_task_of_serve_is_reported_and_restarted(
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
    log_lines: io.StringIO,
    task: str,
) -> None:
    """As in ``leadgate serve``: the inspector's trace feed fails on a record, or the preset
    watcher on a reload; an error line names the task, /readyz answers 503, and it is
    restarted and ready again."""
    settings = _settings(tmp_path, make_kafka_settings)
    kafka = settings.kafka
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    with pytest.MonkeyPatch.context() as patch:
        async with (
            host(settings, role=None, http=True, restart=True) as running,
            aiohttp.ClientSession() as session,
        ):
            assert running.http is not None
            if task == "traces.consume":
                patch.setattr(TraceConsumer, "_take", _sync_fault)
                await produce(kafka.bootstrap_servers, kafka.traces_topic, [(b"m", b"{}")])
            else:
                patch.setattr(PresetReloader, "reload_if_changed", _sync_fault)
            await _state(running.supervisor, task, TaskState.RESTARTING)
            status, body = await _readyz(session, running.http.url)
            assert status == 503
            assert body["problems"][0].startswith(f"{task}: died (RuntimeError: injected fault)")
            patch.undo()
            await _state(running.supervisor, task, TaskState.RUNNING)
            assert (await _readyz(session, running.http.url))[0] == 200
    (died,) = _lines(log_lines, "background.died")
    assert died["worker"] == task
    assert "injected fault" in died["error"]


async def test_the_backoff_grows_and_a_failed_rebuild_counts_as_a_death() -> None:
    """Each restart waits twice as long as the one before (up to the cap); a rebuild that
    fails is the next death, not a restart of the dead run; WorkerDied when restart is off."""
    stop = asyncio.Event()
    supervisor = Supervisor(stop, restart=True, backoff_base_s=0.05, backoff_cap_s=0.2)
    waits: list[float] = []
    builds = 0

    async def dies(_stop: asyncio.Event) -> None:
        raise ValueError("boom")

    async def rebuild() -> Callable[[asyncio.Event], Any]:
        nonlocal builds
        builds += 1
        waits.append(supervisor.health["w"].restart_in_s or 0.0)
        if builds == 2:
            raise OSError("cannot build")
        return dies

    supervisor.start("w", dies, rebuild)
    await wait_for(lambda: _at_least(builds, 5), timeout_s=10, interval_s=0.01)
    stop.set()
    await asyncio.gather(*supervisor.tasks)
    assert waits[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert supervisor.health["w"].state is TaskState.STOPPED

    once = Supervisor(asyncio.Event(), restart=False)
    task = once.start("w", dies)
    with pytest.raises(WorkerDied, match="w died: ValueError: boom"):
        await task
    assert once.problems() == ["w: died (ValueError: boom); not restarted"]


async def test_a_worker_that_returns_by_itself_has_died() -> None:
    """A run that returns while nobody asked it to stop (a consumer that quietly stopped) is a
    death like an error; one that returns after the stop is a clean stop."""

    async def returns(_stop: asyncio.Event) -> None:
        return

    quiet = Supervisor(asyncio.Event(), restart=False)
    with pytest.raises(WorkerDied, match="returned without being asked to stop"):
        await quiet.start("quiet", returns)
    stop = asyncio.Event()
    stop.set()
    clean = Supervisor(stop, restart=False)
    await clean.start("clean", returns)
    assert clean.health["clean"].state is TaskState.STOPPED
    assert clean.healthy()


async def _at_least(value: int, wanted: int) -> bool:
    return value >= wanted
