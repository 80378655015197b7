"""OAuth 2.0 endpoints as Outreach runs them (docs/outreach-api.md#oauth): ``GET /oauth/authorize``
and ``POST /oauth/token`` (form or JSON) for ``authorization_code`` and ``refresh_token``.

Errors: ``400 invalid_grant`` for a used, revoked, expired or unknown grant; ``401
invalid_client`` for wrong client credentials; ``429 rate_limited`` (with ``Retry-After``) when the
grant's user minted for this client less than ``mint_interval_s`` ago (the grant is not consumed
then). A code is granted to user 1 (consent is implicit); each user's tokens stay that user's.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from aiohttp import web

from leadgate.sandbox.errors import json_response, oauth_error
from leadgate.sandbox.state import SANDBOX
from leadgate.sandbox.tokens import Grant, TokenBook

INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection"
    " URI used in the authorization request, or was issued to another client."
)


def parse_scopes(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """Scopes are space-separated (``+`` in a query string decodes to a space)."""
    if not raw:
        return default
    return tuple(s for s in raw.replace(",", " ").split() if s)


async def authorize(request: web.Request) -> web.StreamResponse:
    """``GET /oauth/authorize``: consent is implicit; redirect back with ``code`` and ``state``."""
    book = request.app[SANDBOX].tokens
    query = request.query
    if query.get("client_id") != book.config.client_id:
        return web.Response(status=400, text="Unknown client_id.")
    if query.get("response_type", "code") != "code":
        return web.Response(status=400, text="Only response_type=code is supported.")
    redirect_uri = query.get("redirect_uri")
    if not redirect_uri:
        return web.Response(status=400, text="redirect_uri is required.")
    code = f"sbx-code-{secrets.token_hex(12)}"
    book.codes[code] = Grant(
        book.config.client_id,
        parse_scopes(query.get("scope"), book.config.scopes),
        redirect_uri=redirect_uri,
        expires_at=time.time() + book.config.code_ttl_s,
    )
    params = {"code": code}
    if "state" in query:
        params["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{separator}{urlencode(params)}"
    return web.Response(status=302, headers={"Location": location})


async def _token_params(request: web.Request) -> dict[str, str]:
    """The token request's parameters, form-encoded or JSON (both work against Outreach)."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _take_grant(book: TokenBook, params: dict[str, str]) -> Grant | None:
    """The live grant the request names, or None; does not consume it."""
    grant_type = params.get("grant_type")
    if grant_type == "refresh_token":
        grant = book.refresh_tokens.get(params.get("refresh_token", ""))
    elif grant_type == "authorization_code":
        grant = book.codes.get(params.get("code", ""))
        redirect = params.get("redirect_uri")
        if grant is not None and redirect is not None and redirect != grant.redirect_uri:
            return None
    else:
        return None
    if grant is None or grant.used or grant.client_id != params.get("client_id"):
        return None
    if grant.expires_at is not None and grant.expires_at <= time.time():
        return None
    return grant


async def token(request: web.Request) -> web.StreamResponse:
    """``POST /oauth/token`` for ``authorization_code`` and ``refresh_token`` grants."""
    book = request.app[SANDBOX].tokens
    params = await _token_params(request)
    grant_type = params.get("grant_type")
    if grant_type not in ("refresh_token", "authorization_code"):
        return oauth_error(
            400, "unsupported_grant_type", "The authorization grant type is not supported."
        )
    if (
        params.get("client_id") != book.config.client_id
        or params.get("client_secret") != book.config.client_secret
    ):
        return oauth_error(401, "invalid_client", "Client authentication failed.")
    grant = _take_grant(book, params)
    if grant is None:
        return oauth_error(400, "invalid_grant", INVALID_GRANT)
    wait = book.throttled_for(grant.client_id, grant.user_id)
    if wait > 0:
        # Outreach: one mint per user+app per 60 s, excess gets a 429 (docs/outreach-api.md#oauth).
        return oauth_error(
            429,
            "rate_limited",
            f"A token may be minted once per user per {book.config.mint_interval_s:g} seconds.",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    scopes = grant.scopes
    requested = params.get("scope")
    if requested and grant_type == "refresh_token":
        narrowed = parse_scopes(requested, scopes)
        if not set(narrowed) <= set(scopes):
            return oauth_error(400, "invalid_scope", "The requested scope is invalid.")
        scopes = narrowed
    grant.used = True  # rotation: the refresh token (or code) is dead from now on
    return json_response(
        book.mint(grant.client_id, scopes, grant.user_id), content_type="application/json"
    )


def add_routes(app: web.Application) -> None:
    """Register the OAuth endpoints."""
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/oauth/token", token)
