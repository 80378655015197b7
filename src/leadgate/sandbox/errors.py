"""The error documents the sandbox answers with, byte-for-byte as docs/outreach-api.md#errors has
them. Each builder returns a ready ``web.Response`` so handlers just ``return`` (or raise) it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

JSONAPI = "application/vnd.api+json"

DUPLICATE_EMAIL = "Contacts email hash has already been taken."
EXCLUDED_EMAIL = "Contacts contact is using an excluded email address."


class ApiError(Exception):
    """Raised inside the sandbox to answer with an error response; the middleware renders it."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(
    body: Any,
    status: int = 200,
    *,
    content_type: str = JSONAPI,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A JSON response with Outreach's media type."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type=content_type, headers=headers
    )


def error_response(
    status: int,
    error_id: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    detail_key: str = "detail",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """One JSON:API errors document with a single error object."""
    error: dict[str, Any] = {"id": error_id, "title": title, detail_key: detail}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return json_response({"errors": [error]}, status, headers=headers)


def unsupported_media_type() -> web.Response:
    """415; Outreach's example spells the key ``details`` (plural), so do we."""
    return error_response(
        415,
        "unsupportedMediaType",
        "Unsupported Media Type",
        "Expected Content-Type header to be 'application/vnd.api+json'.",
        detail_key="details",
    )


def invalid_access_token() -> web.Response:
    """401 from Outreach's gateway: not JSON:API, a plain 20-byte body (HULL fixtures)."""
    return web.Response(status=401, text="Invalid access token", content_type="text/plain")


def unauthorized_scope(scope: str) -> web.Response:
    """403 when the token lacks the scope the endpoint needs."""
    return error_response(
        403,
        "unauthorizedOauthScope",
        "Unauthorized OAuth Scope",
        f"The OAuth token does not have the required scope '{scope}'.",
    )


def resource_not_found(kind: str, resource_id: str) -> web.Response:
    """404 for an unknown id, e.g. ``Could not find 'prospect' with ID '1'.``"""
    return error_response(
        404,
        "resourceNotFound",
        "Resource Not Found",
        f"Could not find '{kind}' with ID '{resource_id}'.",
    )


def route_not_found() -> web.Response:
    """404 for a path that is no endpoint."""
    return error_response(
        404,
        "routeNotFound",
        "Route Not Found",
        "The request path does not match any known resource endpoints.",
    )


def validation_error(detail: str, pointer: str = "/data") -> web.Response:
    """422 ``validationError`` with a Rails-style detail."""
    return error_response(422, "validationError", "Validation Error", detail, pointer=pointer)


def bad_request(error_id: str, title: str, detail: str, pointer: str | None = None) -> web.Response:
    """400 for malformed parameters or bodies."""
    return error_response(400, error_id, title, detail, pointer=pointer)


def rate_limit_exceeded(limit: int, reset_epoch: float, headers: dict[str, str]) -> web.Response:
    """429 with the documented detail; the timestamp is the reset time, ISO-8601 without zone."""
    at = datetime.fromtimestamp(reset_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return error_response(
        429,
        "rateLimitExceeded",
        "Rate Limit Exceeded",
        f"You have exceeded your permitted rate limit of {limit:,}; please try again at {at}.",
        headers=headers,
    )


_FAULT_IDS: dict[int, tuple[str, str]] = {
    400: ("badRequest", "Bad Request"),
    403: ("unauthorizedRequest", "Unauthorized Request"),
    404: ("resourceNotFound", "Resource Not Found"),
    409: ("conflict", "Conflict"),
    422: ("validationError", "Validation Error"),
    500: ("internalServerError", "Internal Server Error"),
    502: ("badGateway", "Bad Gateway"),
    503: ("scheduledServerMaintenance", "Scheduled Server Maintenance"),
    504: ("gatewayTimeout", "Gateway Timeout"),
}


def forced_status(status: int, headers: dict[str, str]) -> web.Response:
    """An injected failure, shaped like Outreach's own answer for that status where one is
    documented (401 plain text, 415 and 422 documents), else a plausible error document."""
    if status == 401:
        response = invalid_access_token()
        response.headers.update(headers)
        return response
    if status == 415:
        response = unsupported_media_type()
        response.headers.update(headers)
        return response
    error_id, title = _FAULT_IDS.get(status, ("sandboxFault", "Sandbox Fault"))
    pointer = "/data" if status == 422 else None
    return error_response(
        status, error_id, title, "Injected by the sandbox.", pointer=pointer, headers=headers
    )


def oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An RFC 6749 error from the token endpoint (Outreach runs Doorkeeper)."""
    return json_response(
        {"error": error, "error_description": description},
        status,
        content_type="application/json",
        headers=headers,
    )
