"""The inspector's shared state (``Inspector``, found on the app under ``INSPECTOR``), its masked
JSON answers and the token check in front of every API handler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from leadgate.http.inspector_auth import InspectorAuth
from leadgate.observability.logging import known_secrets, settings_secrets
from leadgate.observability.masking import mask_value
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.store.traces import TraceStore


class Inspector:
    """The inspector's state, shared by its handlers."""

    def __init__(
        self,
        settings: Settings,
        trace_store: TraceStore,
        presets: PresetsHolder | None,
        profile_store: StateStore | None,
    ) -> None:
        self.settings = settings
        self.store = trace_store
        self.presets = presets
        self.profile_store = profile_store
        self.auth = InspectorAuth(settings)
        self.reveal = settings.inspector.reveal_pii
        self.stopping = asyncio.Event()
        # what does not work right now (dead workers, stopped partitions); set by the app
        self.problems: Callable[[], list[str]] = list

    def present(self, value: Any) -> Any:
        """What may leave the inspector: secrets always hidden, PII masked unless revealed."""
        secrets = (*settings_secrets(self.settings), *known_secrets())
        return mask_value(value, secrets=secrets, pii=not self.reveal)

    def json(self, value: Any, status: int = 200) -> web.Response:
        """A masked JSON response."""
        return web.Response(
            body=orjson.dumps(self.present(value)),
            status=status,
            content_type="application/json",
        )


INSPECTOR = web.AppKey("leadgate_inspector", Inspector)


def error(inspector: Inspector, status: int, code: str, message: str) -> web.Response:
    """A masked JSON error: ``{"error": {"code", "message"}}``."""
    return inspector.json({"error": {"code": code, "message": message}}, status=status)


Handler = Callable[[web.Request], Any]


def protected(handler: Callable[[Inspector, web.Request], Any]) -> Handler:
    """``handler`` behind the inspector token (401 with ``WWW-Authenticate`` without it)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        inspector = request.app[INSPECTOR]
        if not inspector.auth.allowed(request):
            response = error(inspector, 401, "unauthorized", inspector.auth.why_not())
            response.headers["WWW-Authenticate"] = 'Bearer realm="leadgate-inspector"'
            return response
        result: web.StreamResponse = await handler(inspector, request)
        return result

    return wrapped
