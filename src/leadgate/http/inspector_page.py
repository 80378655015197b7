"""The inspector's page: the HTML and its assets (no data in them) and the login form that sets
the session cookie."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from leadgate.http.inspector_auth import InspectorAuth
from leadgate.http.inspector_state import INSPECTOR

STATIC = Path(__file__).parent / "static"


async def page(request: web.Request) -> web.Response:
    """``GET /inspector``: the page (it holds no data; the API behind it needs the token)."""
    return web.Response(body=(STATIC / "inspector.html").read_bytes(), content_type="text/html")


async def asset(request: web.Request) -> web.Response:
    """The page's script and style sheet."""
    name = request.match_info["name"]
    types = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
    if name not in types:
        raise web.HTTPNotFound()
    return web.Response(body=(STATIC / name).read_bytes(), content_type=types[name])


async def login(request: web.Request) -> web.Response:
    """``POST /inspector/login`` (the page's form): set the session cookie, back to the page."""
    inspector = request.app[INSPECTOR]
    form = await request.post()
    token = form.get("token")
    if not isinstance(token, str) or not inspector.auth.check_token(token):
        raise web.HTTPSeeOther("/inspector?login=failed")
    response = web.HTTPSeeOther("/inspector")
    inspector.auth.set_cookie(response, secure=request.secure)
    raise response


async def logout(request: web.Request) -> web.Response:
    """``POST /inspector/logout``: drop the session cookie."""
    response = web.HTTPSeeOther("/inspector")
    response.del_cookie(InspectorAuth.COOKIE, path="/inspector")
    raise response
