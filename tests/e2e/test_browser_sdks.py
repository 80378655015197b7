"""Segment's and RudderStack's browser libraries as drop-ins, in Chromium, against ``leadgate
dev``: a page of another origin (a second loopback server) loads the npm package, points it at
leadgate with one URL (analytics.js: ``cdnURL``; RudderStack: ``configUrl`` and the data-plane
URL), and the seed lead becomes Jane Doe's prospect in the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from playwright.async_api import Browser

from leadgate.kafka.broker import free_port
from tests.plugins.dev import DEV_WRITE_KEY, MakeDev
from tests.plugins.streams import REPO, wait_for

NODE_MODULES = REPO / "tests" / "js" / "node_modules"
BUNDLES = {
    # the library's own prebuilt browser bundles, as a site would serve them
    "segment": NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd",
    "rudderstack": NODE_MODULES / "@rudderstack" / "analytics-js" / "dist" / "npm" / "modern"
    / "bundled" / "umd",
}  # fmt: skip
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


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
async def test_browser_library_pointed_at_leadgate_delivers_the_seed_lead(
    browser: Browser, site: str, make_dev: MakeDev, library: str
) -> None:
    """From a page of another origin, the library (configured only with leadgate's URL) loads
    its configuration from leadgate and sends identify + Demo Requested with marketing consent;
    Jane Doe becomes a sandbox prospect with the seed's attributes and tags."""
    dev = await make_dev("--allow-origin", site)
    context = await browser.new_context()
    page = await context.new_page()
    log: list[str] = []
    page.on("console", lambda message: log.append(f"console {message.type}: {message.text}"))
    page.on("requestfailed", lambda request: log.append(f"failed {request.method} {request.url}"))
    page.on("response", lambda response: log.append(f"{response.status} {response.url}"))
    await page.goto(f"{site}/{library}.html")
    config = {"writeKey": DEV_WRITE_KEY, "leadgate": dev.url, "traits": TRAITS, "consent": CONSENT}
    try:
        await asyncio.wait_for(page.evaluate("c => window.sendSeed(c)", config), 30)

        async def created() -> bool:
            return len(await dev.prospects()) == 1

        await wait_for(created, timeout_s=30, interval_s=0.2)
    except (AssertionError, TimeoutError):
        print("\n".join(log), "\n--- leadgate dev ---\n", "".join(dev.output[-40:]))
        raise
    finally:
        await context.close()
    attributes = (await dev.prospects())[0]["attributes"]
    assert attributes["emails"] == ["jane.doe@acme.com"]
    assert (attributes["firstName"], attributes["lastName"]) == ("Jane", "Doe")
    assert attributes["title"] == "Head of Growth"
    assert set(attributes["tags"]) == {"Signal", "demo-request"}
    # the configuration came from leadgate, and so did every answer to the library's requests
    config_path = "/v1/projects/" if library == "segment" else "/sourceConfig/"
    assert any(line.startswith(f"200 {dev.url}{config_path}") for line in log), log
    assert not [line for line in log if dev.url in line and not line.startswith("200 ")], log
