"""CORS for the collector: an allowlist per write key, never a wildcard.

Browsers send ``Origin`` on every POST, so the server checks it itself too: a ``text/plain``
beacon is a CORS "simple request" that no preflight protects (docs/reliability.md H19). The
collector's own pages (``/demo``) are same-origin and always allowed. Responses never carry
``Access-Control-Allow-Credentials``: the SDK sends no cookies, and ``Vary: Origin`` keeps shared
caches from mixing answers for different origins.

A preflight may ask for the request headers the common browser SDKs send: ``Content-Type``,
``Authorization`` and ``Content-Encoding``, and RudderStack's ``AnonymousId`` and ``SentAt``.
A refused origin gets a 403 whose body names the origin and says how to allow it.
"""

from __future__ import annotations

from aiohttp import web

from leadgate.http.writekeys import normalise_origin

ALLOWED_METHODS = frozenset({"POST"})
ALLOWED_REQUEST_HEADERS = frozenset(
    {"content-type", "authorization", "content-encoding", "anonymousid", "sentat"}
)
_MAX_ECHOED_ORIGIN = 200
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


def refused_origin(origin: str) -> web.Response:
    """403 for a browser origin no write key allows: which origin, and how to allow it (the
    origin is echoed only when it is short printable ASCII, as browsers send it)."""
    shown = origin.strip()
    if (
        not shown
        or len(shown) > _MAX_ECHOED_ORIGIN
        or not shown.isascii()
        or not shown.isprintable()
    ):
        shown = "(this page's origin)"
    message = (
        f"origin {shown} may not use this write key; allow it with "
        f"`leadgate dev --allow-origin {shown}` or add it to the write key's origins "
        f'(LEADGATE_COLLECTOR__WRITE_KEYS=\'[{{"key": "...", "origins": ["{shown}"]}}]\')'
    )
    response = web.json_response(
        {
            "success": False,
            "error": {"code": "origin_not_allowed", "message": message, "origin": shown},
        },
        status=403,
    )
    response.headers.update(cors_headers(origin, allowed=False))
    return response


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
