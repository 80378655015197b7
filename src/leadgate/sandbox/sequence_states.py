"""Enrolment: ``POST /api/v2/sequenceStates`` with Outreach's checks.

A sequenceState is created from relationships only (prospect, sequence, mailbox;
docs/outreach-api.md#sequences-and-stages). The sandbox answers the 422s a client must handle: a
missing relationship ("Mailbox can't
be blank"), an unknown id, a disabled sequence, and a prospect that has already been in the
sequence, whose error object carries ``code: "has already been in this sequence"`` (the code
Supaglue's adapter checks; the detail wording is the sandbox's own). A new state is ``active``,
and the store's change hook reports it (``sequenceState.created``) like any other create.
Listing and fetching are the generic routes; the ``finish`` action is ``sequence_actions.py``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from leadgate.sandbox.documents import Link, Write, parse_write
from leadgate.sandbox.errors import (
    ApiError,
    json_response,
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


def enrol(store: Store, links: dict[str, Link], *, allow_duplicates: bool = False) -> Record:
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
    assert prospect is not None
    assert sequence is not None
    record = store.get(SEQUENCE.plural, sequence[1])
    if record is not None and not record.attributes.get("enabled", True):
        raise ApiError(validation_error(SEQUENCE_DISABLED, pointer="/data/relationships/sequence"))
    for state in () if allow_duplicates else store.all(SEQUENCE_STATE.plural):
        if state.relationships.get("prospect") == prospect and (
            state.relationships.get("sequence") == sequence
        ):
            raise ApiError(already_in_sequence())
    # Through the store, so the change hook reports sequenceState.created (webhooks).
    started = {"state": "active", "stateChangedAt": iso_ms(store.clock())}
    return store.create(SEQUENCE_STATE, Write(started, dict(links)))


async def create_state(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/sequenceStates`` -> 201, or the 422 Outreach would give."""
    _allow(request, "write")
    write = parse_write(await request.read(), SEQUENCE_STATE, None)
    sandbox = request.app[SANDBOX]
    async with sandbox.write_lock:
        record = enrol(
            sandbox.store,
            dict(write.relationships),
            allow_duplicates=sandbox.config.allow_duplicate_enrolments,
        )
    return json_response({"data": render(SEQUENCE_STATE, record, base_url(request))}, 201)


def add_routes(app: web.Application) -> None:
    """Register before the generic ``/api/v2/{plural}`` routes (GET stays generic)."""
    app.router.add_post("/api/v2/sequenceStates", create_state)
