"""Compliance requests (docs/outreach-api.md#opt-out-and-erasure):
``POST /api/v2/complianceRequests`` files a regulatory request to delete one person's PII; it is
``pending``, then ``running``, then ``done`` (each step ``config.compliance_step_s`` on the sandbox
clock), and when it is done the prospect is gone, with everything that pointed at it (its
sequenceStates, for one). Reading them is the generic ``GET /api/v2/complianceRequests[/{id}]``; the
admin listing is ``/__sandbox/complianceRequests``.

``requestType`` "Delete" is the only type Outreach supports; ``objectType`` is "Prospect" (the
``requestObjectId`` is a prospect id, or an email address) or "Recipient" (an email address).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from leadgate.sandbox.changes import Change
from leadgate.sandbox.documents import Write, parse_write
from leadgate.sandbox.errors import (
    ApiError,
    json_response,
    route_not_found,
    unauthorized_scope,
    validation_error,
)
from leadgate.sandbox.routes import TOKEN_KEY, base_url, get_resource, list_resources
from leadgate.sandbox.schema import COMPLIANCE_REQUEST, PROSPECT, SCHEMAS
from leadgate.sandbox.state import SANDBOX, SandboxState
from leadgate.sandbox.store import Record, Store, email_key, iso_ms, render

OBJECT_TYPES = ("Prospect", "Recipient")
FINAL = ("done", "failed")


def _checked(write: Write) -> Write:
    """The write with ``requestObjectId`` as text; 422 naming the attribute otherwise."""
    attributes = dict(write.attributes)
    if attributes.get("requestType") != "Delete":
        raise ApiError(
            validation_error(
                "requestType must be 'Delete' (the only type supported).",
                pointer="/data/attributes/requestType",
            )
        )
    if attributes.get("objectType") not in OBJECT_TYPES:
        raise ApiError(
            validation_error(
                f"objectType must be one of: {', '.join(OBJECT_TYPES)}.",
                pointer="/data/attributes/objectType",
            )
        )
    target = attributes.get("requestObjectId")
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if not isinstance(target, str) or not target.strip():
        raise ApiError(
            validation_error(
                "requestObjectId must be a prospect id or an email address.",
                pointer="/data/attributes/requestObjectId",
            )
        )
    attributes["requestObjectId"] = target.strip()
    return Write(attributes, write.relationships)


async def create(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/complianceRequests`` → 201, ``state`` pending."""
    token = request[TOKEN_KEY]
    plural = COMPLIANCE_REQUEST.plural
    if f"{plural}.write" not in token.scopes and f"{plural}.all" not in token.scopes:
        raise ApiError(unauthorized_scope(f"{plural}.write"))
    write = _checked(parse_write(await request.read(), COMPLIANCE_REQUEST, None))
    state = request.app[SANDBOX]
    async with state.write_lock:
        record = state.store.create(COMPLIANCE_REQUEST, write)
    return json_response({"data": render(COMPLIANCE_REQUEST, record, base_url(request))}, 201)


async def read_list(request: web.Request) -> web.StreamResponse:
    """``GET /api/v2/complianceRequests``: the generic listing, states brought up to date."""
    advance(request.app[SANDBOX])
    return await list_resources(request)


async def read_one(request: web.Request) -> web.StreamResponse:
    """``GET /api/v2/complianceRequests/{id}``: the generic fetch, state brought up to date."""
    advance(request.app[SANDBOX])
    return await get_resource(request)


async def not_offered(request: web.Request) -> web.StreamResponse:
    """Outreach offers no update or delete of a compliance request."""
    raise ApiError(route_not_found())


def _targets(store: Store, record: Record) -> list[Record]:
    """The prospects one request names (by id for a numeric Prospect id, else by email)."""
    target = str(record.attributes["requestObjectId"])
    if record.attributes.get("objectType") == "Prospect" and target.isdigit():
        found = store.get(PROSPECT.plural, int(target))
        return [found] if found is not None else []
    return store.with_emails([email_key(target)])


def erase(store: Store, prospect: Record) -> None:
    """Delete a prospect and every resource that links to it (its sequenceStates, ...)."""
    link = (PROSPECT.plural, prospect.id)
    for plural, table in store.tables.items():
        if plural == PROSPECT.plural:
            continue
        schema = SCHEMAS[plural]
        for dependent in [r for r in table.values() if link in r.relationships.values()]:
            store.delete(schema, dependent)
    store.delete(PROSPECT, prospect)


def advance(state: SandboxState) -> list[Record]:
    """Move every open request to where the sandbox clock says it is; returns those that
    finished now (their prospects are deleted)."""
    now = state.now()
    step = state.config.compliance_step_s
    finished: list[Record] = []
    for record in state.store.all(COMPLIANCE_REQUEST.plural):
        current = record.attributes.get("state")
        if current in FINAL:
            continue
        age = now - record.created
        target = "done" if age >= 2 * step else "running" if age >= step else "pending"
        if target == current:
            continue
        if target == "done":
            for prospect in _targets(state.store, record):
                erase(state.store, prospect)
            finished.append(record)
        record.attributes["state"] = target
        record.updated = now
        state.store.feed.emit(
            Change(
                COMPLIANCE_REQUEST.kind,
                "updated",
                record.id,
                {"state": target, "updatedAt": iso_ms(now)},
                before={"state": current},
            )
        )
    return finished


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """Advance the requests in the background too, so no read is needed to make progress."""
    state = app[SANDBOX]

    async def tick() -> None:
        while True:
            await asyncio.sleep(max(0.02, min(state.config.compliance_step_s / 4, 0.25)))
            advance(state)

    task = asyncio.create_task(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_routes(app: web.Application) -> None:
    """Register before the generic routes: these paths are more specific."""
    path = f"/api/v2/{COMPLIANCE_REQUEST.plural}"
    # The generic handlers read the type from {plural}; this pattern matches only this type.
    typed = f"/api/v2/{{plural:{COMPLIANCE_REQUEST.plural}}}"
    app.router.add_post(path, create)
    app.router.add_get(typed, read_list)
    app.router.add_get(typed + "/{id}", read_one)
    app.router.add_patch(path + "/{id}", not_offered)
    app.router.add_delete(path + "/{id}", not_offered)
    app.cleanup_ctx.append(_ticker)
