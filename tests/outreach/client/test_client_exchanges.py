"""OutreachClient over precise HTTP exchanges (aioresponses): auth, limits, transport edges."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aioresponses import aioresponses

from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import IntegrationStopped, PermanentError, RateLimited, RetriableError
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import collect
from leadgate.settings import OutreachSettings
from leadgate.store.base import TokenSet
from leadgate.store.memory import MemoryStore

BASE = "http://outreach.test"
TOKEN_URL = f"{BASE}/oauth/token"
PROSPECT_URL = f"{BASE}/api/v2/prospects/7"
JSONAPI = {"Content-Type": "application/vnd.api+json"}
PROSPECT = {"data": {"type": "prospect", "id": 7, "attributes": {"firstName": "Ada"}}}
FAR = 4_000_000_000.0


def _token(access: str, refresh: str) -> dict[str, object]:
    return {"access_token": access, "refresh_token": refresh, "expires_in": 7200}


@pytest_asyncio.fixture
async def store() -> MemoryStore:
    """A store holding a valid access token, so a request needs no refresh up front."""
    made = MemoryStore()
    await made.save_tokens(TokenSet("access-1", "refresh-1", FAR))
    made.token_saves = 0
    return made


@pytest_asyncio.fixture
async def client(store: MemoryStore) -> AsyncIterator[OutreachClient]:
    """A client for a fake host with a small response cap."""
    settings = OutreachSettings(
        base_url=BASE, refresh_early_s=0, max_response_bytes=4096, max_lookup_pages=3
    )
    async with OutreachClient(settings, store) as made:
        yield made


def _calls(mocked: aioresponses, method: str, url: str) -> int:
    return sum(
        len(v) for (m, u), v in mocked.requests.items() if m == method and str(u).startswith(url)
    )


async def test_401_refreshes_once_and_retries_once(
    client: OutreachClient, store: MemoryStore
) -> None:
    """An expired token costs one refresh; the rotated refresh token is persisted."""
    exchanges = ExchangeRecorder()
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, status=401, body="Invalid access token")
        mocked.post(TOKEN_URL, payload=_token("access-2", "refresh-2"))
        mocked.get(PROSPECT_URL, status=200, body=orjson.dumps(PROSPECT), headers=JSONAPI)
        response = await client.request("GET", "/api/v2/prospects/7", exchanges)
        assert _calls(mocked, "POST", TOKEN_URL) == 1
        sent = mocked.requests[("GET", pytest.importorskip("yarl").URL(PROSPECT_URL))]
    assert response.data["id"] == 7
    assert [e.status for e in exchanges] == [401, 200]
    assert sent[-1].kwargs["headers"]["Authorization"] == "Bearer access-2"
    assert (await store.load_tokens()) is not None
    assert (await store.load_tokens()).refresh_token == "refresh-2"  # type: ignore[union-attr]
    assert store.token_saves == 1


async def test_a_second_401_stops_the_integration(client: OutreachClient) -> None:
    """A token that is rejected right after a refresh stops the line instead of looping."""
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, status=401, body="Invalid access token", repeat=True)
        mocked.post(TOKEN_URL, payload=_token("access-2", "refresh-2"))
        with pytest.raises(IntegrationStopped) as stopped:
            await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        assert _calls(mocked, "POST", TOKEN_URL) == 1
    assert "leadgate auth login" in stopped.value.action


async def test_invalid_grant_stops_without_a_refresh_loop(store: MemoryStore) -> None:
    """A revoked refresh token stops the integration once; later calls do not hit /oauth/token."""
    await store.save_tokens(TokenSet("", "rt-secret-0001", 0.0))
    settings = OutreachSettings(base_url=BASE)
    async with OutreachClient(settings, store) as client:
        with aioresponses() as mocked:
            mocked.post(
                TOKEN_URL,
                status=400,
                payload={"error": "invalid_grant", "error_description": "revoked"},
                repeat=True,
            )
            for _ in range(3):
                with pytest.raises(IntegrationStopped) as stopped:
                    await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
            assert _calls(mocked, "POST", TOKEN_URL) == 1
            assert _calls(mocked, "GET", PROSPECT_URL) == 0
    assert "rt-secret-0001" not in str(stopped.value)
    assert "leadgate auth login" in stopped.value.action


async def test_429_holds_the_budget_until_the_advised_time(client: OutreachClient) -> None:
    """After a 429 with Retry-After, callers get RateLimited without another request."""
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, status=429, headers={"Retry-After": "30"}, repeat=True)
        with pytest.raises(RateLimited) as first:
            await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        with pytest.raises(RateLimited) as second:
            await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        assert _calls(mocked, "GET", PROSPECT_URL) == 1
    assert first.value.retry_after_s == pytest.approx(30, abs=1)
    assert second.value.retry_after_s is not None
    assert 25 < second.value.retry_after_s <= 30


async def test_remaining_zero_holds_until_the_reset(client: OutreachClient) -> None:
    """When Outreach reports no requests left, nothing is sent until X-RateLimit-Reset."""
    import time

    reset = str(int(time.time()) + 20)
    headers = {**JSONAPI, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, body=orjson.dumps(PROSPECT), headers=headers, repeat=True)
        await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        with pytest.raises(RateLimited):
            await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        assert _calls(mocked, "GET", PROSPECT_URL) == 1


async def test_redirects_are_not_followed(client: OutreachClient) -> None:
    """A 302 to another host is a permanent error; the bearer token never travels there."""
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, status=302, headers={"Location": "http://evil.test/steal"})
        with pytest.raises(PermanentError) as error:
            await client.request("GET", "/api/v2/prospects/7", ExchangeRecorder())
        assert _calls(mocked, "GET", "http://evil.test") == 0
    assert error.value.reason == "vendor_permanent"


async def test_oversized_bodies_are_cut_off(client: OutreachClient) -> None:
    """A response over max_response_bytes is an error, not a memory spike (V18)."""
    exchanges = ExchangeRecorder()
    with aioresponses() as mocked:
        mocked.get(PROSPECT_URL, body=b"x" * 100_000, headers=JSONAPI)
        with pytest.raises(RetriableError, match="too large"):
            await client.request("GET", "/api/v2/prospects/7", exchanges)
    assert exchanges[0].status is None
    assert exchanges[0].error


async def test_connection_errors_become_retriable_without_pii(client: OutreachClient) -> None:
    """A refused connection is transient, and its message never carries the email filter."""
    exchanges = ExchangeRecorder()
    with aioresponses() as mocked:
        mocked.get(
            re.compile(r".*/api/v2/prospects.*"), exception=ConnectionResetError("reset by peer")
        )
        with pytest.raises(RetriableError) as error:
            await client.request(
                "GET", "/api/v2/prospects", exchanges, params={"filter[emails]": "ada@acme.com"}
            )
    assert "ada@acme.com" not in error.value.message
    assert exchanges[0].path == "/api/v2/prospects?filter[emails]=ada@acme.com"


async def test_pagination_loops_are_cut(client: OutreachClient) -> None:
    """A links.next that points back to itself ends the lookup with an error (V19)."""
    page = {"data": [PROSPECT["data"]], "links": {"next": f"{BASE}/api/v2/prospects?page[after]=a"}}
    with aioresponses() as mocked:
        mocked.get(
            re.compile(r".*/api/v2/prospects.*"),
            body=orjson.dumps(page),
            headers=JSONAPI,
            repeat=True,
        )
        with pytest.raises(PermanentError, match="loops"):
            await collect(
                client,
                "/api/v2/prospects",
                {"filter[emails]": "a@b.c"},
                ExchangeRecorder(),
                max_pages=3,
            )


async def test_requests_carry_the_jsonapi_media_type(client: OutreachClient) -> None:
    """Writes are sent as application/vnd.api+json (else Outreach answers 415)."""
    with aioresponses() as mocked:
        mocked.patch(PROSPECT_URL, body=orjson.dumps(PROSPECT), headers=JSONAPI)
        await client.request("PATCH", "/api/v2/prospects/7", ExchangeRecorder(), document=PROSPECT)
        ((_, calls),) = [(k, v) for k, v in mocked.requests.items() if k[0] == "PATCH"]
    headers = calls[0].kwargs["headers"]
    assert headers["Content-Type"] == "application/vnd.api+json"
    assert orjson.loads(calls[0].kwargs["data"]) == PROSPECT
