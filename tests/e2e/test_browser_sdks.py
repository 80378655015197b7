"""Segment's and RudderStack's browser libraries as drop-ins, in Chromium, against ``leadgate
dev``: a page of another origin (a second loopback server) loads the npm package, points it at
leadgate with one URL (analytics.js: ``cdnURL``; RudderStack: ``configUrl`` and the data-plane
URL), and the seed lead becomes Jane Doe's prospect in the sandbox."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser

from leadgate.kafka.broker import free_port
from tests.plugins.streams import REPO, wait_for

NODE_MODULES = REPO / "tests" / "js" / "node_modules"
BUNDLES = {
    # the library's own prebuilt browser bundles, as a site would serve them
    "segment": NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd",
    "rudderstack": NODE_MODULES / "@rudderstack" / "analytics-js" / "dist" / "npm" / "modern"
    / "bundled" / "umd",
}  # fmt: skip
WRITE_KEY = "wk_browser_sdk_test"
TRAITS = {
    "email": "jane.doe@acme.com",
    "firstName": "Jane",
    "lastName": "Doe",
    "company": "Acme Inc",
    "title": "Head of Growth",
    "phone": "+44 7700 900123",
}
CONSENT = {"categoryPreferences": {"marketing": True}}

SEGMENT_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="/vendor/segment/index.js"></script></head><body><script>
window.sendSeed = async (config) => {
  const analytics = AnalyticsNext.AnalyticsBrowser.load(
    {writeKey: config.writeKey, cdnURL: config.leadgate});
  const options = {context: {consent: config.consent}};
  await analytics.identify("user-123", config.traits, options);
  const ctx = await analytics.track("Demo Requested", {}, options);
  return ctx.event.messageId;
};
</script></body></html>"""

RUDDER_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="/vendor/rudderstack/index.js"></script></head><body><script>
window.sendSeed = (config) => new Promise((resolve) => {
  const analytics = new rudderanalytics.RudderAnalytics();
  analytics.load(config.writeKey, config.leadgate, {
    configUrl: config.leadgate,
    onLoaded: () => {
      const options = {consent: config.consent};
      analytics.identify("user-123", config.traits, options);
      analytics.track("Demo Requested", {}, options, () => resolve("sent"));
    },
  });
});
</script></body></html>"""


@dataclass
class Dev:
    """A running ``leadgate dev``: its collector URL and its sandbox URL."""

    url: str
    sandbox: str
    output: list[str]


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A second loopback server (another origin) serving the test pages and the libraries'
    bundles from tests/js/node_modules."""
    for library, bundle in BUNDLES.items():
        assert (bundle / "index.js").is_file(), (
            f"{library} is not installed: run `make js` (npm ci in tests/js)"
        )
    app = web.Application()
    app.router.add_get("/segment.html", _page(SEGMENT_PAGE))
    app.router.add_get("/rudderstack.html", _page(RUDDER_PAGE))
    for library, bundle in BUNDLES.items():
        app.router.add_static(f"/vendor/{library}/", bundle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _page(text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    return serve


@pytest.fixture
async def dev(site: str, tmp_path: Path) -> AsyncIterator[Dev]:
    """``leadgate dev --allow-origin <site>`` with a known write key, until the test ends."""
    http, broker, sandbox = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "dev",
        "--http-port", str(http), "--broker-port", str(broker), "--sandbox-port", str(sandbox),
        "--state-dir", str(tmp_path / "state"), "--partitions", "2",
        "--write-key", WRITE_KEY, "--allow-origin", site,
        cwd=str(REPO), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output: list[str] = []
    assert process.stdout is not None
    try:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=90)).decode()
            assert line, "leadgate dev exited before it was ready:\n" + "".join(output)
            output.append(line)
            if line.strip().startswith("state dir"):
                break
        drain = asyncio.create_task(_drain(process.stdout, output))
        yield Dev(f"http://127.0.0.1:{http}", f"http://127.0.0.1:{sandbox}", output)
    finally:
        if process.returncode is None:
            process.send_signal(2)
            await asyncio.wait_for(process.wait(), timeout=60)
    drain.cancel()


async def _drain(stream: asyncio.StreamReader, output: list[str]) -> None:
    while line := await stream.readline():
        output.append(line.decode())


async def _prospects(sandbox: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox}/__sandbox/prospects") as response,
    ):
        body = await response.json()
    return list(body["data"] if isinstance(body, dict) else body)


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
async def test_browser_library_pointed_at_leadgate_delivers_the_seed_lead(
    browser: Browser, site: str, dev: Dev, library: str
) -> None:
    """From a page of another origin, the library (configured only with leadgate's URL) loads
    its configuration from leadgate and sends identify + Demo Requested with marketing consent;
    Jane Doe becomes a sandbox prospect with the seed's attributes and tags."""
    context = await browser.new_context()
    page = await context.new_page()
    log: list[str] = []
    page.on("console", lambda message: log.append(f"console {message.type}: {message.text}"))
    page.on("requestfailed", lambda request: log.append(f"failed {request.method} {request.url}"))
    page.on("response", lambda response: log.append(f"{response.status} {response.url}"))
    await page.goto(f"{site}/{library}.html")
    config = {"writeKey": WRITE_KEY, "leadgate": dev.url, "traits": TRAITS, "consent": CONSENT}
    try:
        await asyncio.wait_for(page.evaluate("c => window.sendSeed(c)", config), 30)

        async def created() -> bool:
            return len(await _prospects(dev.sandbox)) == 1

        await wait_for(created, timeout_s=30, interval_s=0.2)
    except (AssertionError, TimeoutError):
        print("\n".join(log), "\n--- leadgate dev ---\n", "".join(dev.output[-40:]))
        raise
    finally:
        await context.close()
    attributes = (await _prospects(dev.sandbox))[0]["attributes"]
    assert attributes["emails"] == ["jane.doe@acme.com"]
    assert (attributes["firstName"], attributes["lastName"]) == ("Jane", "Doe")
    assert attributes["title"] == "Head of Growth"
    assert set(attributes["tags"]) == {"Signal", "demo-request"}
    # the configuration came from leadgate, and so did every answer to the library's requests
    config_path = "/v1/projects/" if library == "segment" else "/sourceConfig/"
    assert any(line.startswith(f"200 {dev.url}{config_path}") for line in log), log
    assert not [line for line in log if dev.url in line and not line.startswith("200 ")], log
