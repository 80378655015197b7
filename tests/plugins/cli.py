"""Running the ``leadgate`` command in a test: ``cli`` runs it in a thread against this test's
topics and state dir and returns ``(exit code, stdout, stderr)``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from leadgate.cli import main
from leadgate.settings import KafkaSettings

Cli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def cli(
    kafka_settings: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    """Run ``leadgate ARGS`` in a thread against this test's topics (every Kafka setting) and a
    state dir of its own (``tmp_path/state``); returns ``(exit code, stdout, stderr)``."""
    monkeypatch.setenv("LEADGATE_STATE_DIR", str(tmp_path / "state"))
    for name, value in kafka_settings.model_dump().items():
        monkeypatch.setenv(
            f"LEADGATE_KAFKA__{name.upper()}",
            str(value).lower() if isinstance(value, bool) else str(value),
        )

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
