"""CORS for the collector: an allowlist per write key, never a wildcard.

Browsers send ``Origin`` on every POST, so the server checks it itself too: a ``text/plain``
beacon is a CORS "simple request" that no preflight protects (reliability.md H19). The
collector's own pages (``/demo``) are same-origin and always allowed. Responses never carry
``Access-Control-Allow-Credentials``: the SDK sends no cookies, and ``Vary: Origin`` keeps shared
caches from mixing answers for different origins.
"""

from __future__ import annotations

from aiohttp import web

from leadgate.http.writekeys import normalise_origin

ALLOWED_METHODS = frozenset({"POST"})
ALLOWED_REQUEST_HEADERS = frozenset({"content-type", "authorization", "content-encoding"})
PREFLIGHT_MAX_AGE_S = 600


def own_origin(request: web.Request) -> str:
    """The origin this request was addressed to (``scheme://host[:port]``)."""
    return normalise_origin(f"{request.scheme}://{request.host}")


def origin_allowed(origin: str, allowed: frozenset[str], request: web.Request) -> bool:
    """Whether a browser on ``origin`` may post to this collector with these ``allowed`` origins."""
    candidate = normalise_origin(origin)
    return candidate in allowed or candidate == own_origin(request)


def cors_headers(origin: str | None, allowed: bool) -> dict[str, str]:
    """Headers for a response to ``origin``; the allow header only when it is ``allowed``."""
    headers = {"Vary": "Origin"}
    if origin is not None and allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = "Retry-After, X-Leadgate-Message-Id"
    return headers


def preflight_ok(request: web.Request) -> bool:
    """Whether the preflight asks only for what the collector allows."""
    method = request.headers.get("Access-Control-Request-Method", "").strip().upper()
    if method not in ALLOWED_METHODS:
        return False
    asked = request.headers.get("Access-Control-Request-Headers", "")
    names = {name.strip().lower() for name in asked.split(",") if name.strip()}
    return names <= ALLOWED_REQUEST_HEADERS


def preflight_response(origin: str) -> web.Response:
    """204 granting ``origin`` the POST the collector serves."""
    response = web.Response(status=204)
    response.headers.update(cors_headers(origin, allowed=True))
    response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(ALLOWED_METHODS))
    response.headers["Access-Control-Allow-Headers"] = ", ".join(sorted(ALLOWED_REQUEST_HEADERS))
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    return response
