"""The middleware every non-admin request passes, in Outreach's order as far as it is known:
injected latency and faults (a gateway failing before the API), then the bearer token (401), the
per-user budget (429), the media type (415), and finally the endpoint (scopes 403, 404, 422).
Every answer carries ``X-RateLimit-*`` headers and lands in the request log; admin endpoints under
``/__sandbox/`` skip all of it.
"""

from __future__ import annotations

import asyncio
import time
from math import ceil
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from leadgate.sandbox.errors import (
    ApiError,
    forced_status,
    invalid_access_token,
    rate_limit_exceeded,
    route_not_found,
    unsupported_media_type,
)
from leadgate.sandbox.faults import Rule
from leadgate.sandbox.routes import TOKEN_KEY
from leadgate.sandbox.state import SANDBOX, SandboxState
from leadgate.sandbox.store import iso_ms

ADMIN_PREFIX = "/__sandbox/"
_ACCEPTED = ("application/vnd.api+json", "application/json")


class ConnectionDropped(Exception):
    """The sandbox hung up on purpose (a ``reset_connections`` fault)."""


def _logged_body(request: web.Request, raw: bytes) -> Any:
    """The body as the log shows it: JSON or form parsed, the client secret masked."""
    if not raw:
        return None
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            body: Any = dict(parse_qsl(raw.decode()))
        else:
            body = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")
    if isinstance(body, dict) and "client_secret" in body:
        body["client_secret"] = "***"
    return body


def _media_type_ok(request: web.Request, strict: bool, has_body: bool) -> bool:
    """vnd.api+json always; application/json unless strict; none only on body-less requests."""
    if "Content-Type" not in request.headers:
        return not has_body
    accepted = _ACCEPTED[:1] if strict else _ACCEPTED
    return request.content_type in accepted


def _fault_response(state: SandboxState, rule: Rule) -> web.Response:
    now = time.time()
    retry_after = {} if rule.retry_after is None else {"Retry-After": str(ceil(rule.retry_after))}
    if rule.status == 429:
        # A storm also pins the budget headers to "nothing left" until its reset.
        until = now + (rule.retry_after if rule.retry_after is not None else 1)
        if rule.storm:
            state.budget.pinned_until = max(state.budget.pinned_until or 0, until)
        return rate_limit_exceeded(state.budget.limit, until, retry_after)
    return forced_status(rule.status, retry_after)


async def _serve(request: web.Request, handler: Handler, state: SandboxState) -> web.StreamResponse:
    latency = state.config.latency_ms + state.faults.latency_ms
    if latency:
        await asyncio.sleep(latency / 1000)
    rule = state.faults.take(request.method, request.path)
    if rule is not None and rule.kind == "reset":
        raise ConnectionDropped
    if rule is not None and rule.kind != "lose":
        return _fault_response(state, rule)
    if request.path.startswith("/api/"):
        token = state.tokens.authenticate(request.headers.get("Authorization"))
        if token is None:
            return invalid_access_token()
        request[TOKEN_KEY] = token
        if not state.budget.take():
            retry = {"Retry-After": str(state.budget.retry_after())}
            return rate_limit_exceeded(
                state.budget.limit, state.budget.reset_at(time.time()), retry
            )
        has_body = request.method in ("POST", "PATCH", "PUT") or bool(await request.read())
        # A member action (POST .../actions/finish) carries no document: no media type to check.
        action = "/actions/" in request.path and not await request.read()
        if not action and not _media_type_ok(request, state.config.strict_content_type, has_body):
            return unsupported_media_type()
    try:
        response = await handler(request)
    except ApiError as error:
        return error.response
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return route_not_found()
    if rule is not None and rule.kind == "lose":
        raise ConnectionDropped  # done, but the client never hears of it
    return response


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve one request through faults, auth, budget and media type; log it."""
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    state = request.app[SANDBOX]
    raw = await request.read()
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "status": None,
        "body": _logged_body(request, raw),
        "content_type": request.headers.get("Content-Type"),
        "time": iso_ms(time.time()),
    }
    state.requests.append(entry)
    try:
        response = await _serve(request, handler, state)
    except ConnectionDropped:
        entry["status"] = None
        if request.transport is not None:
            request.transport.close()
        # Cancelling is how aiohttp quietly ends a connection that has gone (no 500, no log).
        raise asyncio.CancelledError from None
    entry["status"] = response.status
    response.headers.update(state.budget.headers())
    return response
