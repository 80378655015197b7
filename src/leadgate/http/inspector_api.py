"""The inspector's API: traces (list, one, live stream), the dry run, the live presets, the
workers' problems and the Outreach mirror of a prospect. Each handler runs behind the token
(``inspector_state.protected``) and answers masked JSON."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiohttp import web

from leadgate.http.collector import utc_now_iso
from leadgate.http.inspector_state import Inspector, error
from leadgate.store.mirror import Mirror, mirror_view
from leadgate.store.trace_entry import parse_time
from leadgate.store.traces import TraceQuery

MAX_LIMIT = 1000


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
        return error(inspector, 400, "bad_filter", str(exc))
    entries = inspector.store.query(query)
    return inspector.json({"events": [entry.summary() for entry in entries]})


async def mirrored_prospect(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/outreach/prospects/{id}``: tags, owner, stage, updatedAt and where
    the last change came from (webhook, poll, own_write, export)."""
    raw = request.match_info["id"]
    if not raw.isdigit() or inspector.profile_store is None:
        return error(inspector, 404, "not_found", "no mirror of this prospect")
    doc = await Mirror(inspector.profile_store).get("prospect", int(raw))
    if doc is None:
        return error(inspector, 404, "not_found", "no mirror of this prospect (yet)")
    return inspector.json(mirror_view(doc))


async def get_event(inspector: Inspector, request: web.Request) -> web.Response:
    """``GET /inspector/api/events/{messageId}``."""
    entry = inspector.store.get(request.match_info["message_id"])
    if entry is None:
        return error(inspector, 404, "not_found", "no trace for this messageId (yet)")
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
        return error(inspector, 503, "no_presets", "no preset is loaded")
    if request.content_type != "application/json":
        return error(inspector, 415, "unsupported_media_type", "send application/json")
    body = await request.read()
    if len(body) > inspector.settings.collector.max_event_bytes:
        return error(inspector, 413, "too_large", "an event is at most 32 KB")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(inspector, 400, "malformed", "the body is not JSON")
    if not isinstance(event, dict):
        return error(inspector, 400, "malformed", "send one event as a JSON object")
    event.setdefault("messageId", f"try-{uuid.uuid4()}")
    event.setdefault("receivedAt", utc_now_iso())
    try:
        preset = inspector.presets.get(request.query.get("preset"))
    except KeyError:
        return error(inspector, 404, "no_such_preset", "no preset with that name")
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
