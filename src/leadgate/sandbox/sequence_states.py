"""Enrolment: ``POST /api/v2/sequenceStates`` with Outreach's checks, and the ``finish`` action.

A sequenceState is created from relationships only (prospect, sequence, mailbox; outreach-api.md
§10.3). The sandbox answers the 422s a client must handle: a missing relationship ("Mailbox can't
be blank"), an unknown id, a disabled sequence, and a prospect that has already been in the
sequence, whose error object carries ``code: "has already been in this sequence"`` (the code
Supaglue's adapter checks; the detail wording is the sandbox's own). A new state is ``active``.
``POST /api/v2/sequenceStates/{id}/actions/finish`` moves a state to ``finished``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from leadgate.sandbox.documents import Link, Write, parse_write
from leadgate.sandbox.errors import (
    ApiError,
    json_response,
    resource_not_found,
    unauthorized_scope,
    validation_error,
)
from leadgate.sandbox.routes import TOKEN_KEY, base_url
from leadgate.sandbox.schema import SEQUENCE, SEQUENCE_STATE
from leadgate.sandbox.state import SANDBOX
from leadgate.sandbox.store import Record, Store, iso_ms, render
from leadgate.sandbox.tokens import AccessToken

ALREADY_IN_SEQUENCE = "has already been in this sequence"
SEQUENCE_DISABLED = "Sequence is disabled and cannot accept new prospects."
REQUIRED = ("prospect", "sequence", "mailbox")


def _allow(request: web.Request, verb: str) -> None:
    token: AccessToken = request[TOKEN_KEY]
    plural = SEQUENCE_STATE.plural
    if f"{plural}.{verb}" not in token.scopes and f"{plural}.all" not in token.scopes:
        raise ApiError(unauthorized_scope(f"{plural}.{verb}"))


def already_in_sequence() -> web.Response:
    """422 for a prospect that has (or had) a state in this sequence, with its ``code``."""
    body: dict[str, Any] = {
        "errors": [
            {
                "id": "validationError",
                "title": "Validation Error",
                "detail": f"Prospect {ALREADY_IN_SEQUENCE}.",
                "code": ALREADY_IN_SEQUENCE,
                "source": {"pointer": "/data/relationships/prospect"},
            }
        ]
    }
    return json_response(body, 422)


def enrol(store: Store, links: dict[str, Link]) -> Record:
    """Apply Outreach's checks and create the state; raises ``ApiError`` with the 422."""
    for name in REQUIRED:
        if links.get(name) is None:
            raise ApiError(
                validation_error(
                    f"{name.capitalize()} can't be blank.", pointer=f"/data/relationships/{name}"
                )
            )
    store.check_links(links)
    prospect, sequence = links["prospect"], links["sequence"]
    assert prospect is not None and sequence is not None
    record = store.get(SEQUENCE.plural, sequence[1])
    if record is not None and not record.attributes.get("enabled", True):
        raise ApiError(validation_error(SEQUENCE_DISABLED, pointer="/data/relationships/sequence"))
    for state in store.all(SEQUENCE_STATE.plural):
        if state.relationships.get("prospect") == prospect and (
            state.relationships.get("sequence") == sequence
        ):
            raise ApiError(already_in_sequence())
    created = store.create(SEQUENCE_STATE, Write({}, dict(links)))
    created.attributes.update({"state": "active", "stateChangedAt": iso_ms(created.created)})
    return created


async def create_state(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/sequenceStates`` -> 201, or the 422 Outreach would give."""
    _allow(request, "write")
    write = parse_write(await request.read(), SEQUENCE_STATE, None)
    sandbox = request.app[SANDBOX]
    async with sandbox.write_lock:
        record = enrol(sandbox.store, dict(write.relationships))
    return json_response({"data": render(SEQUENCE_STATE, record, base_url(request))}, 201)


async def finish_state(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/sequenceStates/{id}/actions/finish`` -> 200 with the finished state."""
    _allow(request, "write")
    raw = request.match_info["id"]
    sandbox = request.app[SANDBOX]
    record = sandbox.store.get(SEQUENCE_STATE.plural, int(raw)) if raw.isdigit() else None
    if record is None:
        raise ApiError(resource_not_found(SEQUENCE_STATE.kind, raw))
    async with sandbox.write_lock:
        now = time.time()
        if record.attributes.get("state") != "finished":
            record.attributes.update({"state": "finished", "stateChangedAt": iso_ms(now)})
            record.updated = now
    return json_response({"data": render(SEQUENCE_STATE, record, base_url(request))})


def add_routes(app: web.Application) -> None:
    """Register before the generic ``/api/v2/{plural}`` routes."""
    app.router.add_post("/api/v2/sequenceStates", create_state)
    app.router.add_post("/api/v2/sequenceStates/{id}/actions/finish", finish_state)
