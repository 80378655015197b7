"""The JSON:API endpoints: ``/api/v2/{prospects,accounts,users}`` list, fetch, create, update and
delete, each behind the scope Outreach would ask for.
"""

from __future__ import annotations

from aiohttp import web

from leadgate.sandbox.documents import parse_write
from leadgate.sandbox.errors import (
    ApiError,
    json_response,
    resource_not_found,
    route_not_found,
    unauthorized_scope,
)
from leadgate.sandbox.listing import page
from leadgate.sandbox.schema import PROSPECT, SCHEMAS, ResourceSchema
from leadgate.sandbox.state import SANDBOX
from leadgate.sandbox.store import Record, render
from leadgate.sandbox.tokens import AccessToken

TOKEN_KEY = web.RequestKey("token", AccessToken)


def base_url(request: web.Request) -> str:
    """Where links point: the configured public URL, else the URL the request came in on."""
    config = request.app[SANDBOX].config
    return (config.public_url or f"{request.scheme}://{request.host}").rstrip("/")


def _schema(request: web.Request, verb: str) -> ResourceSchema:
    """The resource type of the path, once the token's scopes allow ``verb`` on it."""
    schema = SCHEMAS.get(request.match_info["plural"])
    if schema is None:
        raise ApiError(route_not_found())
    token: AccessToken = request[TOKEN_KEY]
    # `<plural>.all` = read+write+delete; the verbs are not additive (docs/outreach-api.md#oauth).
    if f"{schema.plural}.{verb}" not in token.scopes and f"{schema.plural}.all" not in token.scopes:
        raise ApiError(unauthorized_scope(f"{schema.plural}.{verb}"))
    return schema


def _record(request: web.Request, schema: ResourceSchema) -> Record:
    raw = request.match_info["id"]
    record = request.app[SANDBOX].store.get(schema.plural, int(raw)) if raw.isdigit() else None
    if record is None:
        raise ApiError(resource_not_found(schema.kind, raw))
    return record


def _id_range(raw: str | None) -> tuple[int, int | None] | None:
    """``filter[id]=a..b`` (``b`` may be ``inf``) as bounds to narrow by; None for other forms
    (the filter itself still decides, and reports a bad value)."""
    if raw is None or ".." not in raw:
        return None
    low, _, high = raw.partition("..")
    if not low.isdigit() or not (high.isdigit() or high in ("", "inf")):
        return None
    return int(low), int(high) if high.isdigit() else None


async def list_resources(request: web.Request) -> web.StreamResponse:
    """``GET /api/v2/{plural}``: filtered, sorted, one cursor page."""
    schema = _schema(request, "read")
    store = request.app[SANDBOX].store
    emails = request.query.get("filter[emails]")
    id_range = _id_range(request.query.get("filter[id]"))
    if schema is PROSPECT and emails is not None:
        records = store.with_emails(emails.split(","))  # the index narrows, the filter decides
    elif id_range is not None:
        records = store.in_id_range(schema.plural, *id_range)  # keyset reads stay cheap
    else:
        records = store.all(schema.plural)
    records, links, total = page(schema, records, request.url)
    body: dict[str, object] = {
        "data": [render(schema, r, base_url(request)) for r in records],
        "links": links,
    }
    if request.query.get("count") == "true":
        body["meta"] = {"count": total, "count_truncated": False}
    return json_response(body)


async def get_resource(request: web.Request) -> web.StreamResponse:
    """``GET /api/v2/{plural}/{id}``."""
    schema = _schema(request, "read")
    return json_response({"data": render(schema, _record(request, schema), base_url(request))})


async def create_resource(request: web.Request) -> web.StreamResponse:
    """``POST /api/v2/{plural}`` → 201. Writes are serialised so the uniqueness check and the
    insert are one step, as in Outreach's database: concurrent duplicates get exactly one 201."""
    schema = _schema(request, "write")
    write = parse_write(await request.read(), schema, None)
    async with request.app[SANDBOX].write_lock:
        record = request.app[SANDBOX].store.create(schema, write)
    return json_response({"data": render(schema, record, base_url(request))}, 201)


async def update_resource(request: web.Request) -> web.StreamResponse:
    """``PATCH /api/v2/{plural}/{id}`` → 200 with the whole resource."""
    schema = _schema(request, "write")
    record = _record(request, schema)
    write = parse_write(await request.read(), schema, record.id)
    async with request.app[SANDBOX].write_lock:
        request.app[SANDBOX].store.update(schema, record, write)
    return json_response({"data": render(schema, record, base_url(request))})


async def delete_resource(request: web.Request) -> web.StreamResponse:
    """``DELETE /api/v2/{plural}/{id}`` → 204."""
    schema = _schema(request, "delete")
    record = _record(request, schema)
    async with request.app[SANDBOX].write_lock:
        request.app[SANDBOX].store.delete(schema, record)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Register the API endpoints."""
    app.router.add_get("/api/v2/{plural}", list_resources)
    app.router.add_post("/api/v2/{plural}", create_resource)
    app.router.add_get("/api/v2/{plural}/{id}", get_resource)
    app.router.add_patch("/api/v2/{plural}/{id}", update_resource)
    app.router.add_delete("/api/v2/{plural}/{id}", delete_resource)
