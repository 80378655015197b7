"""Inspector fixtures: trace records as the workers publish them, stores, and a live inspector."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from leadgate.http.inspector import Inspector, setup_inspector
from leadgate.runtime.services import open_presets
from leadgate.settings import Settings
from leadgate.store.traces import TraceStore

INSPECTOR_TOKEN = "inspector-token-for-tests"
_ids = itertools.count(1)


def processor_trace(**overrides: Any) -> dict[str, Any]:
    """A processor trace record (``Outcome.trace_json()`` shape) of a lead; overridable."""
    n = next(_ids)
    record: dict[str, Any] = {
        "messageId": f"trace-{n}",
        "stage": "processor",
        "type": "track",
        "event": "Demo Requested",
        "receivedAt": "2026-11-23T10:00:09.090Z",
        "stages": [
            {"stage": "decode", "status": "pass", "reason": None, "detail": None},
            {"stage": "preset", "status": "pass", "reason": None, "detail": "tags: Signal"},
        ],
        "normalized": {"email": "jane.doe@acme.com", "phone": "+447700900123"},
        "reason": None,
        "detail": None,
        "outcome": "pending",
        "document": {"data": {"type": "prospect", "attributes": {"emails": ["jane.doe@acme.com"]}}},
    }
    record.update(overrides)
    return record


def dropped_trace(reason: str = "unmapped_event", **overrides: Any) -> dict[str, Any]:
    """A processor trace record of a dropped event."""
    values: dict[str, Any] = {
        "reason": reason,
        "outcome": "dropped",
        "document": None,
        "stages": [{"stage": "preset", "status": "drop", "reason": reason, "detail": "x"}],
    }
    values.update(overrides)
    return processor_trace(**values)


def delivery_trace(message_id: str, outcome: str = "delivered", **overrides: Any) -> dict[str, Any]:
    """A delivery worker's trace record for one source messageId."""
    record: dict[str, Any] = {
        "messageId": message_id,
        "stage": "delivery",
        "outcome": outcome,
        "reason": None,
        "prospectId": 42 if outcome == "delivered" else None,
        "action": "created" if outcome == "delivered" else None,
        "exchanges": [
            {
                "method": "POST",
                "path": "/api/v2/prospects",
                "status": 201,
                "latency_ms": 12.5,
                "attempt": 1,
                "document": {
                    "data": {"type": "prospect", "attributes": {"emails": ["jane.doe@acme.com"]}}
                },
                "response": {"data": {"type": "prospect", "id": 42}},
                "rate_limit": {"X-RateLimit-Remaining": "9999", "X-RateLimit-Reset": "1795450000"},
                "error": None,
            }
        ],
        "at": 1795450000.0,
    }
    record.update(overrides)
    return record


def inspector_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for an inspector under test: its own state dir and the test token."""
    inspector = {"token": SecretStr(INSPECTOR_TOKEN), **overrides.pop("inspector", {})}
    values: dict[str, Any] = {"state_dir": tmp_path / "state", "inspector": inspector}
    values.update(overrides)
    return Settings(**values)


@dataclass
class InspectorHandle:
    """A running inspector on 127.0.0.1: its URL, store and an authenticated client."""

    url: str
    store: TraceStore
    inspector: Inspector
    client: ClientSession

    @property
    def auth(self) -> dict[str, str]:
        """The header that opens the API."""
        return {"Authorization": f"Bearer {INSPECTOR_TOKEN}"}

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET with the token; asserts 200 and returns the JSON body."""
        async with self.client.get(self.url + path, headers=self.auth, **kwargs) as response:
            assert response.status == 200, await response.text()
            return await response.json()


MakeInspector = Callable[..., Awaitable[InspectorHandle]]


@pytest_asyncio.fixture
async def make_inspector(tmp_path: Path) -> AsyncIterator[MakeInspector]:
    """Factory: ``await make_inspector(settings=None, store=None, **setup_kwargs)`` serves an
    inspector on a free loopback port (stopped at teardown) and returns its handle."""
    servers: list[TestServer] = []
    sessions: list[ClientSession] = []

    async def make(
        settings: Settings | None = None, store: TraceStore | None = None, **kwargs: Any
    ) -> InspectorHandle:
        settings = settings or inspector_settings(tmp_path)
        store = store if store is not None else TraceStore(None)
        app = web.Application()
        if "presets_holder" not in kwargs:  # what the composition root passes it
            kwargs["presets_holder"] = open_presets(settings)
        inspector = setup_inspector(app, settings, trace_store=store, **kwargs)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        session = ClientSession()
        sessions.append(session)
        return InspectorHandle(str(server.make_url("")).rstrip("/"), store, inspector, session)

    yield make
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


@pytest.fixture
def make_processor_trace() -> Callable[..., dict[str, Any]]:
    """Factory: a processor trace record (``**overrides``)."""
    return processor_trace


@pytest.fixture
def make_delivery_trace() -> Callable[..., dict[str, Any]]:
    """Factory: a delivery trace record for a messageId (``outcome``, ``**overrides``)."""
    return delivery_trace
