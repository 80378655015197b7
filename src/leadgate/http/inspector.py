"""The event inspector: "what happened to this event, and why?" in seconds (docs/architecture.md).

Routes (all but the page and its assets need the inspector token: ``Authorization: Bearer T``,
or the cookie the page's login form sets; the write key is not a credential here):

- ``GET  /inspector``                          the page (live table, filter, detail, try form)
- ``GET  /inspector/api/events``               filters: email, event, outcome, reason, since,
                                               until, limit (newest first)
- ``GET  /inspector/api/events/{messageId}``   the whole trace of one event
- ``GET  /inspector/api/stream``               server-sent events, one per changed trace
- ``POST /inspector/api/try``                  dry run of one event; sends nothing
- ``GET  /inspector/api/presets``              the live presets and the last reload error
- ``GET  /inspector/api/outreach/prospects/{id}``  leadgate's mirror of one Outreach prospect
- ``GET  /inspector/api/health``               the workers' problems, as ``/readyz`` names them

Every response is JSON (or the page) with a strict CSP and ``nosniff``; every value passes the
pattern masking of ``observability.masking`` (emails, phones, tokens) unless revealing PII is
configured, and known secrets are removed always. Each API access is audit-logged.

This module wires the routes; the handlers live in ``inspector_api`` (the API) and
``inspector_page`` (page, assets, login), their shared state in ``inspector_state``, the token
and cookie in ``inspector_auth``.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from leadgate.errors import ConfigError
from leadgate.http.inspector_api import (
    get_event,
    health_status,
    list_events,
    mirrored_prospect,
    presets_status,
    stream,
    try_event,
)
from leadgate.http.inspector_auth import security_headers
from leadgate.http.inspector_page import asset, login, logout, page
from leadgate.http.inspector_state import INSPECTOR, Inspector, protected
from leadgate.observability.logging import get_logger
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.presets import PresetsHolder
from leadgate.store.traces import TraceStore

log = get_logger(__name__)


def _check(settings: Settings) -> None:
    token = settings.inspector.token
    if token is None:
        return
    keys = {key.key.get_secret_value() for key in settings.collector.write_keys}
    if token.get_secret_value() in keys:
        raise ConfigError("inspector.token must differ from every write key")
    if len(token.get_secret_value()) < 12:
        raise ConfigError("inspector.token must be at least 12 characters")


def setup_inspector(
    app: web.Application,
    settings: Settings,
    *,
    trace_store: TraceStore | None = None,
    presets_holder: PresetsHolder | None = None,
    profile_store: StateStore | None = None,
) -> Inspector:
    """Add the inspector's routes to ``app``; it reads what it is given and opens nothing.

    The composition root (:mod:`leadgate.runtime.http`) feeds ``trace_store`` from the traces
    topic and keeps ``presets_holder`` live. Without ``trace_store`` the inspector shows an empty
    in-memory store; without ``presets_holder`` the dry run answers 503. Without an inspector
    token every API call answers 401.
    """
    _check(settings)
    store = trace_store if trace_store is not None else TraceStore(None)  # empty is falsy
    inspector = Inspector(settings, store, presets_holder, profile_store)
    app[INSPECTOR] = inspector

    async def on_shutdown(app: web.Application) -> None:
        inspector.stopping.set()

    app.on_shutdown.append(on_shutdown)
    app.on_response_prepare.append(_on_prepare)
    app.router.add_get("/inspector", page)
    app.router.add_get("/inspector/static/{name}", asset)
    app.router.add_post("/inspector/login", login)
    app.router.add_post("/inspector/logout", logout)
    app.router.add_get("/inspector/api/events", protected(list_events))
    app.router.add_get("/inspector/api/events/{message_id}", protected(get_event))
    app.router.add_get("/inspector/api/stream", protected(stream))
    app.router.add_post("/inspector/api/try", protected(try_event))
    app.router.add_get("/inspector/api/presets", protected(presets_status))
    app.router.add_get("/inspector/api/outreach/prospects/{id}", protected(mirrored_prospect))
    app.router.add_get("/inspector/api/health", protected(health_status))
    return inspector


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    if not request.path.startswith("/inspector"):
        return
    for name, value in security_headers().items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/inspector/api/"):
        log.info(
            "inspector.access",
            method=request.method,
            path=request.path,
            status=response.status,
            client=hashlib.sha256((request.remote or "").encode()).hexdigest()[:12],
            filters=sorted(request.query.keys()),
        )


__all__ = ["INSPECTOR", "Inspector", "setup_inspector"]
