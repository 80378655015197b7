"""leadgate.js in Chromium: a persistent anonymousId, batching, retry with backoff, and
sendBeacon when the page goes away."""

from __future__ import annotations

from typing import Any, cast

from playwright.async_api import Browser, Page, Request, Route

from tests.plugins.collector import CollectorHandle, MakeCollector, wait_for


async def open_demo(browser: Browser, collector: CollectorHandle) -> Page:
    """A fresh browser profile on the collector's demo page (leadgate.js loaded and set up)."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{collector.url}/demo")
    await page.wait_for_function("window.leadgate && window.leadgate.anonymousId()")
    return page


async def test_anonymous_id_persists_in_cookie_and_local_storage(
    make_collector: MakeCollector, browser: Browser
) -> None:
    """The anonymousId survives a reload, lives in a first-party cookie and localStorage, and
    either one alone restores it."""
    collector = await make_collector(demo_write_key="web")
    page = await open_demo(browser, collector)
    first = await page.evaluate("leadgate.anonymousId()")
    await page.reload()
    assert await page.evaluate("leadgate.anonymousId()") == first
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    assert cookies["lg_aid"] == first
    assert await page.evaluate("JSON.parse(localStorage.getItem('lg_aid'))") == first
    await page.context.clear_cookies()
    await page.reload()
    assert await page.evaluate("leadgate.anonymousId()") == first
    await page.context.close()


async def test_events_are_batched_with_context(
    make_collector: MakeCollector, browser: Browser
) -> None:
    """identify then track go out in one /v1/batch request, each with its own messageId, the
    traits in context.traits and consent as context.consent.categories."""
    collector = await make_collector(demo_write_key="web")
    page = await open_demo(browser, collector)
    bodies: list[dict[str, Any]] = []

    def keep_batch(request: Request) -> None:
        if request.url.endswith("/v1/batch"):
            bodies.append(cast("dict[str, Any]", request.post_data_json))

    page.on("request", keep_batch)
    result = await page.evaluate(
        """async () => {
            leadgate.consent({marketing: true, analytics: "yes"});
            leadgate.identify("user-7", {email: "jane@acme.com"});
            return await leadgate.track("Signed Up", {plan: "team"});
        }"""
    )
    assert result["ok"] is True
    sent = [event for body in bodies for event in body["batch"]]
    assert [e["type"] for e in sent if e["type"] != "page"] == ["identify", "track"]
    track = sent[-1]
    assert track["messageId"] == result["messageId"]
    assert track["userId"] == "user-7"
    assert track["context"]["traits"] == {"email": "jane@acme.com"}
    assert track["context"]["consent"] == {"categories": {"marketing": True, "analytics": False}}
    assert len({e["messageId"] for e in sent}) == len(sent)
    records = await collector.records()
    assert result["messageId"] in {r.value["messageId"] for r in records}
    await page.context.close()


async def test_5xx_and_429_are_retried_with_backoff(
    make_collector: MakeCollector, browser: Browser
) -> None:
    """A 503 and then a 429 (with Retry-After) are retried; the event arrives exactly once."""
    collector = await make_collector(demo_write_key="web")
    page = await open_demo(browser, collector)
    await page.evaluate("leadgate.flush()")
    answers = [(503, "0"), (429, "1")]
    seen: list[int] = []

    async def flaky(route: Route) -> None:
        if answers:
            status, retry_after = answers.pop(0)
            seen.append(status)
            await route.fulfill(
                status=status,
                headers={"Retry-After": retry_after, "Content-Type": "application/json"},
                body='{"success": false}',
            )
        else:
            await route.continue_()

    await page.route("**/v1/batch", flaky)
    result = await page.evaluate("leadgate.track('Lead Submitted', {attempt: 'retry'})")
    assert result["ok"] is True
    assert seen == [503, 429]
    records = [r for r in await collector.records() if r.value["messageId"] == result["messageId"]]
    assert len(records) == 1
    await page.context.close()


async def test_flush_waits_for_the_request_in_flight_and_sends_what_is_queued(
    make_collector: MakeCollector, browser: Browser
) -> None:
    """leadgate.flush() called while a batch is still in flight resolves only after that batch
    and the events queued behind it have reached the collector."""
    collector = await make_collector(demo_write_key="web")
    page = await open_demo(browser, collector)
    await page.evaluate("leadgate.flush()")
    held: list[Route] = []

    async def hold_first(route: Route) -> None:
        if not held:
            held.append(route)
            return
        await route.continue_()

    await page.route("**/v1/batch", hold_first)
    await page.evaluate("leadgate.track('Form Submitted', {via: 'first'}); null")

    async def first_held() -> bool:
        return bool(held)

    await wait_for(first_held, timeout_s=30)
    await page.evaluate(
        """() => { window.flushed = false;
            leadgate.track('Form Submitted', {via: 'second'});
            leadgate.flush().then(function () { window.flushed = true; }); }"""
    )
    assert await page.evaluate("window.flushed") is False, "the first batch is still held"
    await held[0].continue_()
    await page.wait_for_function("() => window.flushed === true")
    sent = [r.value.get("properties", {}).get("via") for r in await collector.records()]
    assert "first" in sent
    assert "second" in sent, "flush resolved before the event queued behind the held batch left"
    await page.context.close()


async def test_queued_events_leave_by_beacon_on_pagehide(
    make_collector: MakeCollector, browser: Browser
) -> None:
    """An event still queued when the visitor navigates away is sent on pagehide (sendBeacon):
    with a 10-minute flush interval, nothing else would send it."""
    collector = await make_collector(demo_write_key="web")
    page = await open_demo(browser, collector)
    await page.evaluate("leadgate.flush()")
    await page.evaluate(
        """() => {
            leadgate.init({writeKey: JSON.parse(
                document.getElementById('leadgate-config').textContent).writeKey,
                flushInterval: 600000});
            leadgate.track('Form Submitted', {via: 'beacon'});
        }"""
    )
    sent_before = [r.value.get("properties", {}).get("via") for r in await collector.records()]
    assert "beacon" not in sent_before, "queued, not sent before the page is left"
    await page.goto("about:blank")

    async def arrived() -> bool:
        records = await collector.records()
        return any(r.value.get("properties", {}).get("via") == "beacon" for r in records)

    await wait_for(arrived, timeout_s=30)
    await page.context.close()
