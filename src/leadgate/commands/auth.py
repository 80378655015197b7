"""``leadgate auth login``: the one-time OAuth authorization_code flow for Outreach.

Prints the authorize URL with the scopes leadgate needs (and opens it in a browser unless
``--no-browser``), catches Outreach's redirect on 127.0.0.1, checks the ``state`` it sent, exchanges
the code for tokens, and stores them in the state store (a 0600 SQLite file under the state dir),
where the workers and ``leadgate send`` pick up the refresh token. Run it again whenever leadgate
reports ``invalid_grant`` or a missing scope. The redirect URI (``--port`` and the path of
``LEADGATE_OUTREACH__REDIRECT_URI``) must be the one registered for the Outreach app.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web

from leadgate.errors import IntegrationStopped, LeadgateError, RetriableError
from leadgate.outreach.auth import post_token_request, token_set
from leadgate.runtime.services import state_store
from leadgate.settings import OutreachSettings, Settings, load_settings
from leadgate.store.base import StateStore, TokenSet

_PAGE = "<!doctype html><title>leadgate</title><p>{}</p>"


def register(subparsers: Any) -> None:
    """Add ``leadgate auth login`` to the CLI."""
    parser = subparsers.add_parser(
        "auth",
        help="authorize leadgate with Outreach (one-time OAuth flow)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    login_parser = sub.add_parser("login", help="authorize in the browser; store the tokens")
    login_parser.add_argument(
        "--port", type=int, default=None, help="local port for the redirect (default: from config)"
    )
    login_parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    login_parser.add_argument("--state-dir", type=Path, default=None, help="where state is kept")
    login_parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    login_parser.set_defaults(handler=handle_login)


def handle_login(args: argparse.Namespace) -> int:
    """Run the flow; 0 when the tokens are stored."""
    overrides: dict[str, Any] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    settings = load_settings(**overrides)
    port = args.port if args.port is not None else urlsplit(settings.outreach.redirect_uri).port
    try:
        return asyncio.run(_login(settings, port or 0, args))
    except (LeadgateError, TimeoutError) as exc:
        message = getattr(exc, "message", "") or "no redirect arrived in time"
        action = getattr(exc, "action", None)
        print(f"leadgate auth login: {message}", file=sys.stderr)
        if action:
            print(f"  what to do: {action}", file=sys.stderr)
        return 1


async def _login(settings: Settings, port: int, args: Any) -> int:
    async with state_store(settings) as store:
        await login(
            settings.outreach,
            store,
            port=port,
            open_browser=not args.no_browser,
            timeout_s=args.timeout,
            out=sys.stdout,
        )
    where = "the Redis state store" if settings.state.url else f"{settings.state_dir}/"
    print(f"Authorized. Tokens stored in {where} (readable by you only).", flush=True)
    return 0


def authorize_url(settings: OutreachSettings, redirect_uri: str, state: str) -> str:
    """Outreach's authorize URL: scopes space-separated (docs/outreach-api.md#oauth)."""
    query = {
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(settings.scopes),
        "state": state,
    }
    return settings.base_url.rstrip("/") + "/oauth/authorize?" + urlencode(query)


async def login(
    settings: OutreachSettings,
    store: StateStore,
    *,
    port: int,
    open_browser: bool,
    timeout_s: float,
    out: TextIO,
) -> TokenSet:
    """The whole flow; returns the stored tokens (raises ``LeadgateError`` on refusal)."""
    state = secrets.token_urlsafe(24)
    path = urlsplit(settings.redirect_uri).path or "/callback"
    arrived: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        params = dict(request.query)
        if not secrets.compare_digest(params.get("state", ""), state):
            if not arrived.done():
                arrived.set_exception(
                    IntegrationStopped(
                        "the redirect carried a wrong state (a stale or forged link)",
                        action="run `leadgate auth login` again and use the URL it prints",
                    )
                )
            return web.Response(
                status=400, text=_PAGE.format("State mismatch."), content_type="text/html"
            )
        if not arrived.done():
            arrived.set_result(params)
        return web.Response(
            text=_PAGE.format("leadgate is authorized. You can close this tab."),
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get(path, callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]
        redirect_uri = f"http://127.0.0.1:{bound}{path}"
        url = authorize_url(settings, redirect_uri, state)
        print("Open this URL to authorize leadgate with Outreach:", file=out)
        print(f"  {url}", file=out)
        print(f"Waiting for the redirect to {redirect_uri} ...", file=out, flush=True)
        if open_browser:
            webbrowser.open(url)
        params = await asyncio.wait_for(arrived, timeout_s)
    finally:
        await runner.cleanup()
    if "error" in params or "code" not in params:
        raise IntegrationStopped(
            f"Outreach did not authorize leadgate ({params.get('error', 'no code')})",
            action="run `leadgate auth login` again and accept every scope",
        )
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.get_secret_value(),
        "redirect_uri": redirect_uri,
    }
    timeout = aiohttp.ClientTimeout(
        total=settings.total_timeout_s, connect=settings.connect_timeout_s
    )
    async with aiohttp.ClientSession(timeout=timeout) as session:
        doc = await post_token_request(session, settings, form)
    tokens = token_set(doc, previous_refresh="", now=time.time())
    if not tokens.refresh_token:
        raise RetriableError("Outreach returned no refresh token", reason="vendor_ambiguous")
    await store.save_tokens(tokens)
    return tokens
