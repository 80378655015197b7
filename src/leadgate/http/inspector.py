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

Every response is JSON (or the page) with a strict CSP and ``nosniff``; every value passes the
pattern masking of ``pipeline.masking`` (emails, phones, tokens) unless revealing PII is
configured, and known secrets are removed always. Each API access is audit-logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from leadgate.errors import ConfigError
from leadgate.http.collector import utc_now_iso
from leadgate.http.inspector_auth import InspectorAuth, security_headers
from leadgate.observability.logging import get_logger, known_secrets, settings_secrets
from leadgate.observability.masking import mask_value
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.mirror import Mirror, mirror_view
from leadgate.store.presets import PresetsHolder
from leadgate.store.trace_entry import parse_time
from leadgate.store.traces import TraceQuery, TraceStore

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"
MAX_LIMIT = 1000


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


def _error(inspector: Inspector, status: int, code: str, message: str) -> web.Response:
    return inspector.json({"error": {"code": code, "message": message}}, status=status)


Handler = Callable[[web.Request], Any]


def _protected(handler: Callable[[Inspector, web.Request], Any]) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        inspector = request.app[INSPECTOR]
        if not inspector.auth.allowed(request):
            response = _error(inspector, 401, "unauthorized", inspector.auth.why_not())
            response.headers["WWW-Authenticate"] = 'Bearer realm="leadgate-inspector"'
            return response
        result: web.StreamResponse = await handler(inspector, request)
        return result

    return wrapped


def _query(request: web.Request) -> TraceQuery:
    params = request.query
    try:
        limit = min(max(int(params.get("limit", "100")), 1), MAX_LIMIT)
    except ValueError as exc:
        raise ValueError("limit must be a whole number") from exc
    times: dict[str, float | None] = {}
    for name in ("since", "until"):
        raw = params.get(name) or None
        times[name] = parse_time(raw) if raw else None
        if raw and times[name] is None:
            raise ValueError(f"{name} must be an ISO 8601 time or epoch seconds")
    return TraceQuery(
        email=params.get("email") or None,
        event=params.get("event") or None,
        outcome=params.get("outcome") or None,
        reason=params.get("reason") or None,
        since=times["since"],
        until=times["until"],
        limit=limit,
    )


async def list_events(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/events``."""
    try:
        query = _query(request)
    except ValueError as exc:
        return _error(inspector, 400, "bad_filter", str(exc))
    entries = inspector.store.query(query)
    return inspector.json({"events": [entry.summary() for entry in entries]})


async def mirrored_prospect(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/outreach/prospects/{id}``: tags, owner, stage, updatedAt and where
    the last change came from (webhook, poll, own_write, export)."""
    raw = request.match_info["id"]
    if not raw.isdigit() or inspector.profile_store is None:
        return _error(inspector, 404, "not_found", "no mirror of this prospect")
    doc = await Mirror(inspector.profile_store).get("prospect", int(raw))
    if doc is None:
        return _error(inspector, 404, "not_found", "no mirror of this prospect (yet)")
    return inspector.json(mirror_view(doc))


async def get_event(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/events/{messageId}``."""
    entry = inspector.store.get(request.match_info["message_id"])
    if entry is None:
        return _error(inspector, 404, "not_found", "no trace for this messageId (yet)")
    return inspector.json(entry.detail())


async def stream(inspector: Inspector, request: web.Request) -> web.StreamResponse:
    """``GET /inspector/api/stream``: each changed trace's summary as an SSE ``trace`` event."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    queue = inspector.store.subscribe()
    stopping = asyncio.ensure_future(inspector.stopping.wait())
    try:
        await response.write(b"retry: 2000\n\n")
        while not inspector.stopping.is_set():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, stopping}, timeout=15.0, return_when="FIRST_COMPLETED"
            )
            if getter not in done:
                getter.cancel()
                if stopping in done:
                    break
                await response.write(b": keep-alive\n\n")
                continue
            data = orjson.dumps(inspector.present(getter.result()))
            await response.write(b"event: trace\ndata: " + data + b"\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        stopping.cancel()
        inspector.store.unsubscribe(queue)
    return response


async def try_event(inspector: Inspector, request: web.Request) -> web.Response:
    """``POST /inspector/api/try``: run one event through ``process()``; nothing is sent."""
    from leadgate.domain.events import decode
    from leadgate.domain.profile import Profile
    from leadgate.pipeline.process import identities_of, process

    if inspector.presets is None:
        return _error(inspector, 503, "no_presets", "no preset is loaded")
    if request.content_type != "application/json":
        return _error(inspector, 415, "unsupported_media_type", "send application/json")
    body = await request.read()
    if len(body) > inspector.settings.collector.max_event_bytes:
        return _error(inspector, 413, "too_large", "an event is at most 32 KB")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(inspector, 400, "malformed", "the body is not JSON")
    if not isinstance(event, dict):
        return _error(inspector, 400, "malformed", "send one event as a JSON object")
    event.setdefault("messageId", f"try-{uuid.uuid4()}")
    event.setdefault("receivedAt", utc_now_iso())
    try:
        preset = inspector.presets.get(request.query.get("preset"))
    except KeyError:
        return _error(inspector, 404, "no_such_preset", "no preset with that name")
    raw = orjson.dumps(event)
    head = decode(raw)
    snapshot = Profile()
    if inspector.profile_store is not None:
        snapshot = await inspector.profile_store.get_profile(identities_of(head))
    region = inspector.settings.pipeline.default_phone_region
    outcome = process(raw, snapshot, preset, default_region=region, head=head)
    trace = outcome.trace_json()
    trace["dryRun"] = True
    trace["wouldSend"] = outcome.sent
    trace["document"] = outcome.lead.document() if outcome.lead is not None else None
    trace["preset"] = preset.name
    return inspector.json(trace)


async def presets_status(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/presets``: each live preset and its last reload error."""
    if inspector.presets is None:
        return inspector.json({"presets": []})
    return inspector.json({"presets": inspector.presets.status()})


async def health_status(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/health``: the workers' problems, as ``/readyz`` names them."""
    return inspector.json({"problems": inspector.problems()})


async def page(request: web.Request) -> web.Response:
    """``GET /inspector``: the page (it holds no data; the API behind it needs the token)."""
    return web.Response(body=(STATIC / "inspector.html").read_bytes(), content_type="text/html")


async def asset(request: web.Request) -> web.Response:
    """The page's script and style sheet."""
    name = request.match_info["name"]
    types = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
    if name not in types:
        raise web.HTTPNotFound()
    return web.Response(body=(STATIC / name).read_bytes(), content_type=types[name])


async def login(request: web.Request) -> web.Response:
    """``POST /inspector/login`` (the page's form): set the session cookie, back to the page."""
    inspector = request.app[INSPECTOR]
    form = await request.post()
    token = form.get("token")
    if not isinstance(token, str) or not inspector.auth.check_token(token):
        raise web.HTTPSeeOther("/inspector?login=failed")
    response = web.HTTPSeeOther("/inspector")
    inspector.auth.set_cookie(response, secure=request.secure)
    raise response


async def logout(request: web.Request) -> web.Response:
    """``POST /inspector/logout``: drop the session cookie."""
    response = web.HTTPSeeOther("/inspector")
    response.del_cookie(InspectorAuth.COOKIE, path="/inspector")
    raise response


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
    app.router.add_get("/inspector/api/events", _protected(list_events))
    app.router.add_get("/inspector/api/events/{message_id}", _protected(get_event))
    app.router.add_get("/inspector/api/stream", _protected(stream))
    app.router.add_post("/inspector/api/try", _protected(try_event))
    app.router.add_get("/inspector/api/presets", _protected(presets_status))
    app.router.add_get("/inspector/api/outreach/prospects/{id}", _protected(mirrored_prospect))
    app.router.add_get("/inspector/api/health", _protected(health_status))
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
