"""A whole leadgate on loopback for cross-cutting checks (secret canaries, the browser test):
embedded broker topics, the Outreach sandbox, processor + delivery workers, and the HTTP app
(collector, demo page, inspector, metrics), with planted canary secrets and captured logs."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
import structlog
from aiohttp import web
from pydantic import SecretStr

from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.observability.logging import configure_logging
from leadgate.runtime.process import host
from leadgate.runtime.roles import Role
from leadgate.runtime.services import state_store
from leadgate.settings import KafkaSettings, Settings, WriteKey
from leadgate.store.base import TokenSet
from tests.plugins.events import LEAD_CAPTURE
from tests.plugins.sandbox import MakeSandbox, SandboxHandle


@dataclass(frozen=True)
class Canaries:
    """Secret values planted in the configuration; none may ever appear in any output."""

    write_key: str = "wk-canary-5b1e0c7d9a"
    client_secret: str = "cs-canary-8f2d4a6b1c"
    refresh_token: str = "rt-canary-3e9a7c5d2f"
    access_token: str = "at-canary-6d4b8e1a0c"
    inspector_token: str = "it-canary-2c7f9b3e5a"

    def values(self) -> dict[str, str]:
        """Name -> planted value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Stack:
    """A running leadgate: where it listens and what it wrote."""

    url: str
    settings: Settings
    sandbox: SandboxHandle
    canaries: Canaries
    logs: io.StringIO
    app: web.Application

    @property
    def inspector_auth(self) -> dict[str, str]:
        """The header that opens the inspector API."""
        return {"Authorization": f"Bearer {self.canaries.inspector_token}"}

    async def inspector_json(self, session: aiohttp.ClientSession, path: str) -> Any:
        """GET an inspector API path with the token; the decoded JSON."""
        async with session.get(self.url + path, headers=self.inspector_auth) as response:
            assert response.status == 200, await response.text()
            return await response.json()


MakeStack = Callable[..., Awaitable[Stack]]


@pytest_asyncio.fixture
async def make_stack(
    make_sandbox: MakeSandbox,
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
) -> AsyncIterator[MakeStack]:
    """Factory: ``await make_stack(demo=False, **outreach_overrides)`` runs the pipeline with the
    canary secrets planted (the stored access token is a canary too, so the first API call
    takes the 401-refresh path); everything stops after the test."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    async with contextlib.AsyncExitStack() as stack:

        async def make(*, demo: bool = False, **outreach: Any) -> Stack:
            canaries = Canaries()
            sandbox = await make_sandbox(
                client_secret=canaries.client_secret, first_refresh_token=canaries.refresh_token
            )
            kafka = make_kafka_settings()
            await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
            settings = Settings(
                state_dir=tmp_path / "state",
                http_port=0,
                kafka=kafka,
                outreach={
                    "base_url": sandbox.url,
                    "client_secret": SecretStr(canaries.client_secret),
                    "refresh_token": SecretStr(canaries.refresh_token),
                    "coalesce_window_s": 0.1,
                    "backoff_base_s": 0.1,
                    "backoff_cap_s": 1.0,
                    **outreach,
                },
                collector={
                    "write_keys": (WriteKey(key=SecretStr(canaries.write_key), name="web"),),
                    "demo_write_key": "web" if demo else None,
                },
                inspector={"token": SecretStr(canaries.inspector_token)},
                pipeline={"presets": (LEAD_CAPTURE,), "presets_poll_s": 0.5},
            )
            logs = io.StringIO()
            configure_logging(settings, fmt="json", level="debug", stream=logs)
            store = await stack.enter_async_context(state_store(settings))
            await store.save_tokens(
                TokenSet(canaries.access_token, canaries.refresh_token, time.time() + 3600)
            )
            running = await stack.enter_async_context(
                host(settings, role=Role.ALL, http=True, store=store)
            )
            await running.ready()
            assert running.http is not None
            url, app = running.http.url, running.http.app
            return Stack(url, settings, sandbox, canaries, logs, app)

        yield make
    structlog.reset_defaults()
    root.handlers, root.level = saved_handlers, saved_level
