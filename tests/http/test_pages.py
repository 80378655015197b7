"""The tag SDK and the demo page as served (docs/architecture.md)."""

from __future__ import annotations

import gzip
import json
import re

import aiohttp
from pydantic import SecretStr

from leadgate.http.pages import json_for_script_block, static_text
from leadgate.settings import WriteKey
from tests.plugins.collector import WRITE_KEY, MakeCollector, default_write_keys


def test_sdk_is_under_8_kb_gzipped() -> None:
    """leadgate.js stays under 8 KB gzipped, the budget of a tag on a customer page."""
    size = len(gzip.compress(static_text("leadgate.js").encode(), 9))
    assert size < 8 * 1024, size


async def test_sdk_is_served_as_javascript(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """GET /sdk/leadgate.js serves the SDK as JavaScript, compressed for clients that accept it."""
    collector = await make_collector()
    async with http.get(
        f"{collector.url}/sdk/leadgate.js", headers={"Accept-Encoding": "gzip"}
    ) as r:
        assert r.status == 200
        assert r.content_type == "application/javascript"
        assert r.headers["Content-Encoding"] == "gzip"
        text = await r.text()
    for api in ("init", "identify", "track", "page", "consent", "sendBeacon", "/v1/batch"):
        assert api in text


async def test_demo_is_off_unless_a_write_key_is_named(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """Without collector.demo_write_key the demo page is a 404 that says how to turn it on."""
    collector = await make_collector()
    async with http.get(f"{collector.url}/demo") as r:
        assert r.status == 404
        assert "demo_write_key" in await r.text()


async def test_demo_embeds_the_named_key_safely(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """With demo_write_key set, /demo embeds that key (and only it) in an inert JSON block, under
    a Content Security Policy that allows only the collector's own scripts."""
    collector = await make_collector(demo_write_key="web")
    async with http.get(f"{collector.url}/demo") as r:
        assert r.status == 200
        page = await r.text()
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1][:30]
    block = re.search(r'<script id="leadgate-config" type="application/json">(.*?)</script>', page)
    assert block is not None
    assert json.loads(block.group(1))["writeKey"] == WRITE_KEY
    assert "wk_other" not in page
    for name in ("name", "email", "company", "title", "phone", "consent"):
        assert f'name="{name}"' in page
    async with http.get(f"{collector.url}/demo/demo.js") as r:
        assert r.status == 200
        assert "Demo Requested" in await r.text()


async def test_demo_key_cannot_break_out_of_its_script_block(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """A key containing </script> markup stays data: the page has exactly its own script tags."""
    hostile = WriteKey(key=SecretStr("</script><script>alert(1)</script>"), name="odd")
    collector = await make_collector(
        write_keys=(*default_write_keys(), hostile), demo_write_key="odd"
    )
    async with http.get(f"{collector.url}/demo") as r:
        page = await r.text()
    assert page.count("<script") == 3
    assert "alert(1)</script>" not in page
    assert json.loads(json_for_script_block({"k": "</script>"})) == {"k": "</script>"}
