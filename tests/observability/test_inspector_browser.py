"""The inspector in a real browser (Chromium via Playwright) on the whole running pipeline."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.observability.conftest import MakeStack
from tests.plugins.collector import basic
from tests.plugins.events import build_event, consent

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path("/tmp/inspector.png")
TIMEOUT_MS = 45_000


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(url + "/inspector")
    await page.fill("#login-token", token)
    await page.click("#login-submit")
    await expect(page.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)


async def test_demo_lead_appears_live_delivered_filters_and_dry_runs(
    make_stack: MakeStack, browser: Browser
) -> None:
    """A demo-form lead shows up live as delivered with its document; the email filter keeps
    only that visitor's events; a dry run of an unmapped event answers unmapped_event."""
    stack = await make_stack(demo=True)
    context = await browser.new_context()
    inspector = await context.new_page()
    await _sign_in(inspector, stack.url, stack.canaries.inspector_token)

    other = build_event(
        "track",
        event="Lead Submitted",
        context={"traits": {"email": "other.person@elsewhere.io"}, **consent("marketing")},
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.url + "/v1/track", json=other, headers=basic(stack.canaries.write_key)
        ) as response,
    ):
        assert response.status == 200
    other_row = inspector.locator(f'tr[data-message-id="{other["messageId"]}"]')
    await expect(other_row).to_be_visible(timeout=TIMEOUT_MS)

    email = f"ada.{uuid.uuid4().hex[:6]}@analytical-engines.io"
    demo = await context.new_page()
    await demo.goto(stack.url + "/demo")
    await demo.fill("#name", "Ada Lovelace")
    await demo.fill("#email", email)
    await demo.fill("#company", "Analytical Engines")
    await demo.check("#consent")
    await demo.click("#submit")
    status = demo.locator("#status[data-message-id]")
    await expect(status).to_be_attached(timeout=TIMEOUT_MS)
    message_id = await status.get_attribute("data-message-id")
    assert message_id

    row = inspector.locator(f'tr[data-message-id="{message_id}"][data-outcome="delivered"]')
    await expect(row).to_be_visible(timeout=TIMEOUT_MS)
    await expect(row.locator("td.email")).to_have_text("a***@a***.io")
    await row.click()
    detail = inspector.locator("#detail")
    await expect(detail.locator('[data-outcome="delivered"]')).to_be_visible(timeout=TIMEOUT_MS)
    prospect_request = detail.locator(".exchange", has_text="/api/v2/prospects").first
    await expect(prospect_request).to_be_visible()
    await expect(detail).to_contain_text('"type": "prospect"')
    await expect(detail).to_contain_text("document sent")

    await inspector.fill("#filter-email", email)
    await inspector.click("#filter-apply")
    await expect(other_row).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(row).to_be_visible()

    unmapped = {"type": "track", "event": "Video Played", "anonymousId": "browser-try"}
    await inspector.fill("#try-input", json.dumps(unmapped))
    await inspector.click("#try-run")
    await expect(inspector.locator("#try-result")).to_contain_text(
        "unmapped_event", timeout=TIMEOUT_MS
    )
    await inspector.fill("#filter-email", "")
    await inspector.click("#filter-apply")
    await row.click()
    await expect(detail.locator(".exchange").first).to_be_visible(timeout=TIMEOUT_MS)
    await inspector.set_viewport_size({"width": 1400, "height": 1000})
    await inspector.screenshot(path=str(SCREENSHOT), full_page=True)
    await context.close()
