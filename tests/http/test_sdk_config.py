"""What Segment's and RudderStack's browser libraries ask leadgate before sending: settings and
source config for a known key and an allowed origin, the headers their preflights ask for, the
AnonymousId header, and a 403 that says which origin was refused and how to allow it."""

from __future__ import annotations

import argparse
import base64

import aiohttp
import pytest

from leadgate.commands.dev import browser_origin
from leadgate.http.writekeys import anonymous_id_from_headers
from tests.plugins.collector import (
    SHOP_ORIGIN,
    WRITE_KEY,
    CollectorHandle,
    basic,
)

EVIL = "https://evil.example"


async def test_segment_settings_point_the_segment_io_integration_at_this_collector(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """analytics.js's settings for the key: only ``Segment.io``, apiHost = this host + /v1 and
    its scheme, no device-mode destinations or remote plugins, readable by the allowed origin."""
    url = f"{collector.url}/v1/projects/{WRITE_KEY}/settings"
    async with http.get(url, headers={"Origin": SHOP_ORIGIN}) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
        settings = await response.json()
    host = collector.url.removeprefix("http://")
    assert list(settings["integrations"]) == ["Segment.io"]
    segment_io = settings["integrations"]["Segment.io"]
    assert (segment_io["apiKey"], segment_io["apiHost"], segment_io["protocol"]) == (
        WRITE_KEY,
        f"{host}/v1",
        "http",
    )
    assert settings["remotePlugins"] == []
    assert settings["enabledMiddleware"] == {}
    assert settings["metrics"]["sampleRate"] == 0


async def test_rudderstack_source_config_with_the_key_in_query_or_header(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """RudderStack's source config: an enabled source named after the key's source, no
    destinations; the key comes in the query or in ``Authorization: Basic``."""
    url = f"{collector.url}/sourceConfig/"
    async with http.get(url, params={"writeKey": WRITE_KEY}) as response:
        assert response.status == 200
        body = await response.json()
    source = body["source"]
    assert (source["name"], source["enabled"], source["destinations"]) == ("web", True, [])
    assert source["writeKey"] == WRITE_KEY
    assert source["config"] == body["source"]["config"]
    async with http.get(url, headers={**basic(WRITE_KEY), "Origin": SHOP_ORIGIN}) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
    preflight = {
        "Origin": SHOP_ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with http.options(url, headers=preflight) as response:
        assert response.status == 204
        assert "authorization" in response.headers["Access-Control-Allow-Headers"]


async def test_unknown_key_is_401_and_a_foreign_origin_403_naming_it(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """No configuration for an unknown key (the collector's constant 401); a page of an origin
    the key does not allow gets 403 saying which origin and how to allow it."""
    async with http.get(f"{collector.url}/v1/projects/wk_nobody/settings") as response:
        assert response.status == 401
    async with http.get(f"{collector.url}/sourceConfig/?writeKey=wk_nobody") as response:
        assert response.status == 401
    url = f"{collector.url}/v1/projects/{WRITE_KEY}/settings"
    async with http.get(url, headers={"Origin": EVIL}) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        error = (await response.json())["error"]
    assert error["origin"] == EVIL
    assert f"--allow-origin {EVIL}" in error["message"]
    assert "LEADGATE_COLLECTOR__WRITE_KEYS" in error["message"]


async def test_preflight_grants_rudderstacks_headers_and_refuses_an_origin_by_name(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A preflight asking for AnonymousId and SentAt (RudderStack) with the usual ones is
    granted to an allowed origin; one from another origin is 403 with the how-to body."""
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,anonymousid,sentat",
    }
    async with http.options(
        f"{collector.url}/v1/track", headers={"Origin": SHOP_ORIGIN, **asked}
    ) as response:
        assert response.status == 204
        allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"anonymousid", "sentat", "authorization", "content-type"} <= allowed
    async with http.options(f"{collector.url}/v1/track", headers={"Origin": EVIL, **asked}) as r:
        assert r.status == 403
        assert f"--allow-origin {EVIL}" in (await r.json())["error"]["message"]
    body = {"type": "track", "event": "Lead Submitted", "userId": "u1", "messageId": "m-evil"}
    async with http.post(
        f"{collector.url}/v1/track", json=body, headers={**basic(WRITE_KEY), "Origin": EVIL}
    ) as response:
        assert response.status == 403
        assert (await response.json())["error"]["origin"] == EVIL


async def test_anonymous_id_header_fills_events_that_lack_one(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """An event without an anonymousId takes RudderStack's base64 ``AnonymousId`` header; one
    with its own keeps it."""
    encoded = base64.b64encode(b"anon-from-header").decode()
    headers = {**basic(WRITE_KEY), "AnonymousId": encoded}
    lone = {"type": "track", "event": "Lead Submitted", "userId": "u1", "messageId": "m-hdr-1"}
    own = {**lone, "messageId": "m-hdr-2", "anonymousId": "anon-own"}
    for event in (lone, own):
        async with http.post(f"{collector.url}/v1/track", json=event, headers=headers) as r:
            assert r.status == 200
    by_id = {r.value["messageId"]: r.value for r in await collector.records()}
    assert by_id["m-hdr-1"]["anonymousId"] == "anon-from-header"
    assert by_id["m-hdr-2"]["anonymousId"] == "anon-own"


def test_anonymous_id_header_plain_or_base64() -> None:
    """A plain header value is kept; base64 of printable text is decoded; junk is ignored."""
    assert anonymous_id_from_headers({"AnonymousId": "dc6ad960-12d2-49a4"}) == (
        "dc6ad960-12d2-49a4"
    )
    assert anonymous_id_from_headers({"AnonymousId": "YW5vbi0x"}) == "anon-1"
    assert anonymous_id_from_headers({"AnonymousId": "a\x01b"}) is None
    assert anonymous_id_from_headers({}) is None


def test_allow_origin_takes_an_origin_not_a_url() -> None:
    """``--allow-origin`` keeps scheme://host[:port] (lower-cased) and refuses paths and junk."""
    assert browser_origin("http://LocalHost:3000") == "http://localhost:3000"
    assert browser_origin("https://www.example.com/") == "https://www.example.com"
    for bad in ("localhost:3000", "ftp://x.example", "https://x.example/page", "http://"):
        with pytest.raises(argparse.ArgumentTypeError):
            browser_origin(bad)
