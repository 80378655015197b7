"""Write keys and origins (docs/reliability.md H17-H20)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.plugins.collector import (
    OTHER_KEY,
    SHOP_ORIGIN,
    WRITE_KEY,
    CollectorHandle,
    MakeCollector,
    basic,
)

EVENT = {"anonymousId": "a-1", "event": "Lead Submitted"}
UNAUTHORIZED = {
    "success": False,
    "error": {"code": "unauthorized", "message": "missing or unknown write key"},
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wk_unknown"),
        basic(WRITE_KEY + "x"),
        basic(WRITE_KEY[:-1]),
        {"Authorization": f"Bearer {WRITE_KEY.upper()}"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": f"Token {WRITE_KEY}"},
    ],
    ids=["missing", "unknown", "longer", "prefix", "case", "bad-base64", "other-scheme"],
)
async def test_missing_or_unknown_key_gets_a_constant_401(
    collector: CollectorHandle, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """Every missing, unknown or malformed key gets the same 401 body, byte for byte, and
    nothing is produced (H17)."""
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=headers) as r:
        assert r.status == 401
        assert json.loads(await r.read()) == UNAUTHORIZED
        assert r.headers["Content-Length"] == str(len(json.dumps(UNAUTHORIZED)))
    assert await collector.records() == []


async def test_unknown_key_in_body_gets_401(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A writeKey body field that names no key is refused like a header key (H17)."""
    body = {**EVENT, "writeKey": "wk_nope"}
    async with http.post(f"{collector.url}/v1/track", json=body) as r:
        assert r.status == 401
        assert await r.json() == UNAUTHORIZED


async def test_query_write_key_only_when_configured(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """A write key in the query string is refused by default and accepted only when the
    operator allows it (H18)."""
    strict = await make_collector()
    async with http.post(f"{strict.url}/v1/track?writeKey={WRITE_KEY}", json=EVENT) as r:
        assert r.status == 401
    lenient = await make_collector(allow_query_write_key=True)
    async with http.post(f"{lenient.url}/v1/track?writeKey={WRITE_KEY}", json=EVENT) as r:
        assert r.status == 200


DISALLOWED_ORIGINS = [
    "null",
    "https://shop.example.evil.com",
    "https://shop.example.",
    "https://evil-shop.example",
    "http://shop.example",
    "https://shop.example:8443",
    "https://sub.shop.example",
    "https://other.example",  # the other tenant's origin
    "https://shop.exampl",
    "*",
]


@pytest.mark.parametrize("origin", DISALLOWED_ORIGINS)
async def test_origin_not_on_the_keys_allowlist_is_403(
    collector: CollectorHandle, http: aiohttp.ClientSession, origin: str
) -> None:
    """A browser origin not on the key's allowlist gets 403 without any allow-origin header and
    nothing is produced, also for text/plain beacons (H19, P6)."""
    headers = {"Origin": origin, "Content-Type": "text/plain"}
    body = json.dumps({**EVENT, "writeKey": WRITE_KEY})
    async with http.post(f"{collector.url}/v1/track", data=body, headers=headers) as r:
        assert r.status == 403
        assert (await r.json())["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in r.headers
        assert r.headers["Vary"] == "Origin"
    assert await collector.records() == []


@pytest.mark.parametrize("origin", [SHOP_ORIGIN, "HTTPS://SHOP.EXAMPLE"])
async def test_allowed_origin_gets_its_own_allow_header(
    collector: CollectorHandle, http: aiohttp.ClientSession, origin: str
) -> None:
    """An allowlisted origin gets Access-Control-Allow-Origin set to itself, Vary: Origin, and
    never a credentials grant (P6)."""
    body = json.dumps({**EVENT, "writeKey": WRITE_KEY})
    headers = {"Origin": origin, "Content-Type": "text/plain"}
    async with http.post(f"{collector.url}/v1/track", data=body, headers=headers) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Credentials" not in r.headers


async def test_other_tenants_key_from_this_origin_is_403(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """shop.example may not use the other source's key (P6: other tenant's origin)."""
    headers = {**basic(OTHER_KEY), "Origin": SHOP_ORIGIN}
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=headers) as r:
        assert r.status == 403


async def test_same_origin_pages_may_post(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """The collector's own pages (the demo) are same-origin and accepted with any key."""
    headers = {**basic(OTHER_KEY), "Origin": collector.url}
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=headers) as r:
        assert r.status == 200


async def test_server_to_server_requests_need_no_origin(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A request without Origin (curl, a backend SDK) is not a browser and is accepted."""
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_preflight_for_an_allowed_origin(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A preflight from an allowed origin asking for POST with JSON and Authorization is granted,
    to that origin only, without credentials (H20)."""
    headers = {
        "Origin": SHOP_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    async with http.options(f"{collector.url}/v1/batch", headers=headers) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Access-Control-Allow-Credentials" not in r.headers
        assert r.headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    ("origin", "method", "asked_headers"),
    [
        ("https://evil.example", "POST", "content-type"),
        (SHOP_ORIGIN, "DELETE", ""),
        (SHOP_ORIGIN, "PUT", "content-type"),
        (SHOP_ORIGIN, "POST", "x-admin, content-type"),
        (SHOP_ORIGIN, "POST", "cookie"),
        ("null", "POST", ""),
    ],
)
async def test_preflight_asking_too_much_is_refused(
    collector: CollectorHandle,
    http: aiohttp.ClientSession,
    origin: str,
    method: str,
    asked_headers: str,
) -> None:
    """A preflight from an unknown origin, or asking for other methods or headers, gets 403 and
    no allow-origin header (H20)."""
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if asked_headers:
        headers["Access-Control-Request-Headers"] = asked_headers
    async with http.options(f"{collector.url}/v1/track", headers=headers) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers
