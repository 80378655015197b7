"""End-to-end fixtures: the whole pipeline (processor + delivery, in this process or as a
``leadgate run`` subprocess) on the embedded broker against a real sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.runtime.roles import Role, Workers, workers
from leadgate.settings import Settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.plugins.streams import wait_for


@dataclass
class Pipeline:
    """A running pipeline: its settings, its sandbox and (in-process) its workers."""

    settings: Settings
    sandbox: SandboxHandle
    workers: Workers | None = None

    async def ready(self) -> None:
        """Wait until both consumer groups have their partitions."""
        running = self.workers
        assert running is not None
        assert running.processor
        assert running.delivery
        processor, delivery = running.processor, running.delivery

        async def assigned() -> bool:
            return processor.loop.assignments >= 1 and delivery.loop.assignments >= 1

        await wait_for(assigned, timeout_s=30, interval_s=0.05)


MakePipeline = Callable[..., Awaitable[Pipeline]]


@pytest_asyncio.fixture
async def make_pipeline(
    make_settings: Callable[..., Settings], make_sandbox: MakeSandbox
) -> AsyncIterator[MakePipeline]:
    """Factory: ``await make_pipeline(sandbox={...}, kafka={...}, start=True, **overrides)``
    (``presets=(path,)``, ``outcomes={...}`` or Outreach settings)
    creates topics and a sandbox, and (with ``start``) runs the workers in this process until
    the test ends."""
    async with AsyncExitStack() as stack:

        async def make(
            *,
            sandbox: dict[str, Any] | None = None,
            kafka: dict[str, Any] | None = None,
            start: bool = True,
            **overrides: Any,
        ) -> Pipeline:
            handle = await make_sandbox(**{"mint_interval_s": 0.0, **(sandbox or {})})
            settings = make_settings(sandbox_url=handle.url, kafka=kafka, **overrides)
            await ensure_topics(
                settings.kafka.bootstrap_servers,
                topics_of(settings.kafka),
                settings.kafka.partitions,
            )
            pipeline = Pipeline(settings, handle)
            if start:
                stop = asyncio.Event()
                pipeline.workers = await stack.enter_async_context(
                    workers(settings, Role.ALL, stop)
                )
                await pipeline.ready()
            return pipeline

        yield make
