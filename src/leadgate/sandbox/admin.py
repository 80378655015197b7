"""Test-only admin endpoints under ``/__sandbox/`` (no auth, not rate limited, not logged):

``GET <plural>`` (prospects, accounts, users, opportunities, opportunityStages,
    opportunityProspectRoles, ...)  every stored resource of a type, JSON:API rendered,
    as ``{"data": [...]}``;
``GET requests``  the request log: ``{"data": [{method, path, query, status, body, content_type,
    time}]}`` (``status`` null for a dropped connection; client secrets masked);
``POST faults``  add faults (see ``faults`` module), answers the faults in force;
``POST reset``  clear data, faults, log and budget; ``{"oauth": true}`` resets tokens too;
``POST refresh-tokens``  ``{"scopes": [...], "token": optional, "user": optional id}`` → a new live
    refresh token with exactly those scopes (to test 403 ``unauthorizedOauthScope``), belonging to
    user ``user`` (default 1, the app's own user; a rep holds a token of their own);
``GET deliveries``  webhook deliveries: ``{"data": [{webhook, event, resource_id, event_id, status,
    attempts, outcome, time}]}`` (outcome: pending, delivered, error_status, unreachable, timeout,
    dropped);
``GET state``  counters: mints, live access tokens, budget left, webhook deliveries pending;
``POST clock``  ``{"advance": seconds}`` moves the sandbox clock forward (time-based behaviour,
    such as a compliance request going pending → running → done, without sleeping); answers
    ``{"now": ISO time, "offset": seconds}``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from leadgate.sandbox import compliance
from leadgate.sandbox.errors import json_response
from leadgate.sandbox.faults import FaultSpecError
from leadgate.sandbox.routes import base_url
from leadgate.sandbox.schema import COMPLIANCE_REQUEST, SCHEMAS
from leadgate.sandbox.state import SANDBOX
from leadgate.sandbox.store import iso_ms, render


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(text="body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def resources(request: web.Request) -> web.StreamResponse:
    """Every stored resource of one type."""
    schema = SCHEMAS.get(request.match_info["plural"])
    if schema is None:
        raise web.HTTPNotFound()
    if schema is COMPLIANCE_REQUEST:
        compliance.advance(request.app[SANDBOX])
    store = request.app[SANDBOX].store
    base = base_url(request)
    return json_response({"data": [render(schema, r, base) for r in store.all(schema.plural)]})


async def requests(request: web.Request) -> web.StreamResponse:
    """The request log."""
    return json_response({"data": list(request.app[SANDBOX].requests)})


async def faults(request: web.Request) -> web.StreamResponse:
    """Add faults; 400 with the reason for a spec that cannot be understood."""
    state = request.app[SANDBOX]
    try:
        if state.faults.apply(await _json_object(request)):
            state.tokens.expire_all()
    except FaultSpecError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return json_response(state.faults.describe())


async def reset(request: web.Request) -> web.StreamResponse:
    """Clear data, faults, log and budget (and OAuth state with ``{"oauth": true}``)."""
    body = await _json_object(request)
    request.app[SANDBOX].reset(oauth=bool(body.get("oauth")))
    return web.Response(status=204)


async def refresh_tokens(request: web.Request) -> web.StreamResponse:
    """A new refresh token with the scopes asked for."""
    body = await _json_object(request)
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise web.HTTPBadRequest(text="scopes must be a list of strings")
    token = body.get("token")
    user = body.get("user", 1)
    sandbox = request.app[SANDBOX]
    if type(user) is not int or sandbox.store.get("users", user) is None:
        raise web.HTTPBadRequest(text="user must be the id of an existing user")
    issued = sandbox.tokens.issue_refresh_token(
        tuple(scopes), str(token) if token else None, user_id=user
    )
    return json_response({"refresh_token": issued, "scopes": scopes, "user": user}, 201)


async def deliveries(request: web.Request) -> web.StreamResponse:
    """What happened to each webhook delivery."""
    return json_response({"data": list(request.app[SANDBOX].webhooks.log)})


async def state(request: web.Request) -> web.StreamResponse:
    """Counters a test may assert on."""
    sandbox = request.app[SANDBOX]
    now = time.time()
    live = sum(1 for t in sandbox.tokens.access_tokens.values() if t.expires_at > now)
    return json_response(
        {
            "mints": sandbox.tokens.mints,
            "live_access_tokens": live,
            "budget_remaining": sandbox.budget.remaining(now),
            "faults": sandbox.faults.describe(),
            "webhook_deliveries_pending": sandbox.webhooks.pending,
        }
    )


async def clock(request: web.Request) -> web.StreamResponse:
    """Move the sandbox clock forward; what depends on it catches up at once."""
    body = await _json_object(request)
    seconds = body.get("advance")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise web.HTTPBadRequest(text="advance must be a number of seconds >= 0")
    sandbox = request.app[SANDBOX]
    sandbox.clock_offset += float(seconds)
    compliance.advance(sandbox)
    return json_response({"now": iso_ms(sandbox.now()), "offset": sandbox.clock_offset})


def add_routes(app: web.Application) -> None:
    """Register the admin endpoints."""
    app.router.add_get("/__sandbox/requests", requests)
    app.router.add_get("/__sandbox/state", state)
    app.router.add_get("/__sandbox/deliveries", deliveries)
    app.router.add_post("/__sandbox/faults", faults)
    app.router.add_post("/__sandbox/reset", reset)
    app.router.add_post("/__sandbox/refresh-tokens", refresh_tokens)
    app.router.add_post("/__sandbox/clock", clock)
    app.router.add_get("/__sandbox/{plural}", resources)
