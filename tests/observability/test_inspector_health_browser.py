"""The inspector page in Chromium says when the pipeline is not processing: a dead worker or a
partition stopped at a batch it cannot decode shows as a banner, and the banner goes away once
all is well again."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.plugins.inspector import INSPECTOR_TOKEN, MakeInspector

TIMEOUT_MS = 30_000


async def test_problems_show_as_a_banner_until_they_are_gone(
    make_inspector: MakeInspector, browser: Browser
) -> None:
    """With a stopped partition reported, the signed-in page shows "Not processing: ..." with
    the partition and offsets; when the problem clears, the banner hides at the next poll."""
    handle = await make_inspector()
    problems = ["leadgate.events[0] stopped at offsets 41-43 (crc_mismatch); group g"]
    handle.inspector.problems = lambda: list(problems)
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(handle.url + "/inspector")
        await page.fill("#login-token", INSPECTOR_TOKEN)
        await page.click("#login-submit")
        banner = page.locator("#worker-problems")
        await expect(banner).to_be_visible(timeout=TIMEOUT_MS)
        await expect(banner).to_contain_text(
            "Not processing: leadgate.events[0] stopped at offsets 41-43 (crc_mismatch)"
        )
        problems.clear()
        await expect(banner).to_be_hidden(timeout=TIMEOUT_MS)
    finally:
        await context.close()
