"""The demo page in a real browser (Debian's Chromium driven by Playwright), through the whole
pipeline: collector → Kafka → processor → delivery → the Outreach sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser
from pydantic import SecretStr

from leadgate.http.app import build_http_app
from leadgate.kafka.broker import ensure_topics, topics_of
from leadgate.kafka.producer import make_producer
from leadgate.runtime.roles import Role, workers
from leadgate.settings import CollectorSettings, Settings, WriteKey
from tests.plugins.collector import topic_records
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.plugins.streams import wait_for

SCREENSHOT = "/tmp/demo.png"


@dataclass
class DemoSite:
    """leadgate with its demo page on a free port, and the sandbox it delivers to."""

    url: str
    settings: Settings
    sandbox: SandboxHandle


@pytest_asyncio.fixture
async def demo_site(
    make_settings: Callable[..., Settings], make_sandbox: MakeSandbox
) -> AsyncIterator[DemoSite]:
    """The collector (demo on), processor and delivery on the embedded broker and a sandbox."""
    sandbox = await make_sandbox(mint_interval_s=0.0)
    base = make_settings(sandbox_url=sandbox.url)
    demo_key = WriteKey(key=SecretStr("wk_demo_browser_test"), name="demo")
    settings = base.model_copy(
        update={"collector": CollectorSettings(write_keys=(demo_key,), demo_write_key="demo")}
    )
    kafka = settings.kafka
    await ensure_topics(kafka.bootstrap_servers, topics_of(kafka), kafka.partitions)
    async with contextlib.AsyncExitStack() as stack:
        stop = asyncio.Event()
        running = await stack.enter_async_context(workers(settings, Role.ALL, stop))
        producer = make_producer(kafka)
        await producer.start()
        stack.push_async_callback(producer.stop)
        runner = web.AppRunner(
            build_http_app(settings, producer=producer), handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        assert running.processor is not None
        assert running.delivery is not None
        processor, delivery = running.processor, running.delivery

        async def assigned() -> bool:
            return processor.loop.assignments >= 1 and delivery.loop.assignments >= 1

        await wait_for(assigned, timeout_s=30)
        yield DemoSite(f"http://127.0.0.1:{runner.addresses[0][1]}", settings, sandbox)


async def submit_demo_form(
    browser: Browser, site: DemoSite, *, email: str, consent: bool, screenshot: str | None = None
) -> str:
    """Fill in and send the demo form in a fresh browser profile; return the shown event id."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/demo")
        await page.fill("#name", "Jane Doe")
        await page.fill("#email", email)
        await page.fill("#company", "Acme Inc")
        await page.fill("#title", "Head of Growth")
        await page.fill("#phone", "+44 7700 900123")
        if consent:
            await page.check("#consent")
        await page.click("#submit")
        status = page.locator("#status.ok")
        await status.wait_for(timeout=30_000)
        text = await status.inner_text()
        message_id = await status.get_attribute("data-message-id")
        assert message_id is not None
        assert text.startswith(f"Sent \u2014 event id {message_id}")
        link = await page.get_attribute("#inspector-link", "href")
        assert link == f"/inspector#{message_id}"
        if screenshot is not None:
            await page.screenshot(path=screenshot, full_page=True)
        return message_id
    finally:
        await context.close()


def prospect_with(prospects: list[dict[str, Any]], email: str) -> dict[str, Any] | None:
    """The sandbox prospect holding ``email``, if any."""
    for prospect in prospects:
        if email in prospect["attributes"].get("emails", []):
            return prospect
    return None


async def test_demo_with_consent_creates_the_prospect(
    demo_site: DemoSite, browser: Browser
) -> None:
    """Submitting the demo form with marketing consent creates an Outreach prospect tagged
    [Signal, demo-request] with the phone in E.164, and the page shows the event id."""
    email = "jane.doe@acme.com"
    message_id = await submit_demo_form(
        browser, demo_site, email=email, consent=True, screenshot=SCREENSHOT
    )
    records = await topic_records(demo_site.settings.kafka, demo_site.settings.kafka.events_topic)
    [tracked] = [r.value for r in records if r.value["messageId"] == message_id]
    assert tracked["event"] == "Demo Requested"
    assert tracked["context"]["consent"] == {"categories": {"marketing": True}}
    assert tracked["context"]["traits"]["email"] == email
    assert tracked["context"]["leadgate"] == {"source": "demo"}
    identify = [r.value for r in records if r.value["type"] == "identify"]
    assert [event["traits"]["phone"] for event in identify] == ["+44 7700 900123"]

    async def delivered() -> bool:
        return prospect_with(await demo_site.sandbox.prospects(), email) is not None

    await wait_for(delivered, timeout_s=60)
    prospect = prospect_with(await demo_site.sandbox.prospects(), email)
    assert prospect is not None
    attributes = prospect["attributes"]
    assert sorted(attributes["tags"]) == ["Signal", "demo-request"]
    assert attributes["mobilePhones"] == ["+447700900123"]
    assert attributes["firstName"] == "Jane"
    assert attributes["company"] == "Acme Inc"


async def test_demo_without_consent_is_dropped(demo_site: DemoSite, browser: Browser) -> None:
    """Submitting without the consent box is accepted by the collector but dropped by the
    processor as no_consent; no prospect appears."""
    email = "no.consent@acme.com"
    message_id = await submit_demo_form(browser, demo_site, email=email, consent=False)
    kafka = demo_site.settings.kafka
    traces: list[dict[str, Any]] = []

    async def traced() -> bool:
        nonlocal traces
        records = await topic_records(kafka, kafka.traces_topic)
        traces = [r.value for r in records if r.value.get("messageId") == message_id]
        return bool(traces)

    await wait_for(traced, timeout_s=60)
    assert traces[0]["reason"] == "no_consent"
    assert traces[0]["outcome"] == "dropped"
    assert prospect_with(await demo_site.sandbox.prospects(), email) is None
