"""The tag SDK (``/sdk/leadgate.js``) and the demo lead form (``/demo``).

The demo page is leadgate.js used exactly as a customer site uses it; it needs a write key, so it
is served only when ``collector.demo_write_key`` names one. The key goes into a JSON data block
(``<script type="application/json">``, escaped so it cannot close the tag), and a strict Content
Security Policy allows only the collector's own scripts.
"""

from __future__ import annotations

import json
from importlib import resources

from aiohttp import web

from leadgate.settings import CollectorSettings

_STATIC = resources.files("leadgate.http") / "static"
_CONFIG_SLOT = "__LEADGATE_DEMO_CONFIG__"
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def static_text(name: str) -> str:
    """One file of ``leadgate/http/static``."""
    return (_STATIC / name).read_text(encoding="utf-8")


def json_for_script_block(value: object) -> str:
    """JSON that is inert inside ``<script type="application/json">`` (no ``</script>``)."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script(text: str) -> web.Response:
    response = web.Response(text=text, content_type="application/javascript", charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.enable_compression()
    return response


def page_routes(settings: CollectorSettings) -> list[web.RouteDef]:
    """``/sdk/leadgate.js``, ``/demo`` and the demo's script."""
    sdk = static_text("leadgate.js")
    demo_script = static_text("demo.js")
    demo_page: str | None = None
    if settings.demo_write_key is not None:
        key = next(k for k in settings.write_keys if k.name == settings.demo_write_key)
        config = {"writeKey": key.key.get_secret_value(), "endpoint": "", "inspector": "/inspector"}
        demo_page = static_text("demo.html").replace(_CONFIG_SLOT, json_for_script_block(config))

    async def serve_sdk(_request: web.Request) -> web.Response:
        return _script(sdk)

    async def serve_demo_script(_request: web.Request) -> web.Response:
        return _script(demo_script)

    async def serve_demo(_request: web.Request) -> web.Response:
        if demo_page is None:
            return web.Response(
                status=404,
                text="The demo page is off: set collector.demo_write_key to a write key's name.\n",
            )
        response = web.Response(text=demo_page, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = DEMO_CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return [
        web.get("/sdk/leadgate.js", serve_sdk),
        web.get("/demo", serve_demo),
        web.get("/demo/demo.js", serve_demo_script),
    ]
