"""Member actions on sequenceStates (docs/outreach-api.md#sequences-and-stages): ``POST
/api/v2/sequenceStates/{id}/actions/finish`` ends an enrolment, so its scheduled mailings stop.

The sequenceState resource itself (create, list, fetch) is the routing room's; this module only
adds the action. Finishing sets ``state`` to "finished" and ``stateChangedAt`` to now; finishing
a state that has already finished changes nothing and answers the same way (the action is what a
withdrawal retries, so it must be safe to repeat; whether Outreach answers 200 or 422 there is
not documented).
"""

from __future__ import annotations

from aiohttp import web

from leadgate.sandbox.changes import Change
from leadgate.sandbox.errors import (
    ApiError,
    json_response,
    resource_not_found,
    route_not_found,
    unauthorized_scope,
)
from leadgate.sandbox.routes import TOKEN_KEY, base_url
from leadgate.sandbox.schema import SCHEMAS
from leadgate.sandbox.state import SANDBOX
from leadgate.sandbox.store import iso_ms, render

PLURAL = "sequenceStates"
FINISHED = "finished"


async def finish(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/sequenceStates/{id}/actions/finish`` → 200 with the sequenceState."""
    schema = SCHEMAS.get(PLURAL)
    if schema is None:
        raise ApiError(route_not_found())
    scopes = request[TOKEN_KEY].scopes
    if f"{PLURAL}.write" not in scopes and f"{PLURAL}.all" not in scopes:
        raise ApiError(unauthorized_scope(f"{PLURAL}.write"))
    state = request.app[SANDBOX]
    raw = request.match_info["id"]
    record = state.store.get(PLURAL, int(raw)) if raw.isdigit() else None
    if record is None:
        raise ApiError(resource_not_found(schema.kind, raw))
    async with state.write_lock:
        before = record.attributes.get("state")
        if before != FINISHED:
            now = state.now()
            record.attributes["state"] = FINISHED
            record.attributes["stateChangedAt"] = iso_ms(now)
            record.updated = now
            changed = {"state": FINISHED, "stateChangedAt": iso_ms(now), "updatedAt": iso_ms(now)}
            links: dict[str, int | None] = {
                n: link[1] for n, link in record.relationships.items() if link is not None
            }
            # Outreach names this change by its action (webhooks: sequenceState.finished).
            state.store.feed.emit(
                Change(schema.kind, "finished", record.id, changed, links, {"state": before})
            )
    return json_response({"data": render(schema, record, base_url(request))})


def add_routes(app: web.Application) -> None:
    """Register the action (more specific than any generic route)."""
    app.router.add_post(f"/api/v2/{PLURAL}/{{id}}/actions/finish", finish)
