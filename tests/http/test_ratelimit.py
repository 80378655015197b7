"""Abuse limits: per-IP and per-key token buckets (docs/reliability.md H24, H25)."""

from __future__ import annotations

import aiohttp
import pytest

from leadgate.http.ratelimit import RateLimiter, retry_after_seconds
from tests.plugins.clock import FakeClock
from tests.plugins.collector import OTHER_KEY, WRITE_KEY, MakeCollector, basic

EVENT = {"anonymousId": "a-1", "event": "Lead Submitted"}


def test_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    """At 2/s a key gets 2 requests at once, then a wait of 0.5 s per missing token, and a
    refill over time; other keys are independent."""
    clock = FakeClock(100.0)
    limiter = RateLimiter(2.0, clock=clock)
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_bucket_table_is_bounded() -> None:
    """A flood of distinct keys never holds more than max_keys buckets."""
    limiter = RateLimiter(1.0, max_keys=100, clock=FakeClock(100.0))
    for i in range(1000):
        limiter.acquire(f"ip-{i}")
    assert len(limiter._buckets) == 100


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    """Retry-After is whole seconds, at least 1, never earlier than the real wait."""
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.2)] == [1, 1, 2]


async def test_per_ip_limit_is_429_with_retry_after_and_isolated(
    make_collector: MakeCollector,
) -> None:
    """Past its per-IP budget a client gets 429 with Retry-After, while a client on another IP
    at the same moment is unaffected (H24, P7)."""
    collector = await make_collector(per_ip_rate=1.0, per_key_rate=1000.0)
    statuses_a: list[int] = []
    retry_after: str | None = None
    conn_a = aiohttp.TCPConnector(local_addr=("127.0.0.1", 0))
    conn_b = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with (
        aiohttp.ClientSession(connector=conn_a) as client_a,
        aiohttp.ClientSession(connector=conn_b) as client_b,
    ):
        for _ in range(10):
            async with client_a.post(
                f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)
            ) as r:
                statuses_a.append(r.status)
                if r.status == 429:
                    retry_after = r.headers["Retry-After"]
                    assert (await r.json())["error"]["code"] == "rate_limited"
        async with client_b.post(
            f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)
        ) as r:
            assert r.status == 200
    assert statuses_a.count(200) >= 1
    assert statuses_a.count(429) >= 5
    assert retry_after is not None
    assert int(retry_after) >= 1


async def test_spoofed_forwarded_for_changes_nothing(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """X-Forwarded-For from a peer that is not a trusted proxy is ignored: rotating it does not
    escape the per-IP limit (H25)."""
    collector = await make_collector(per_ip_rate=1.0, per_key_rate=1000.0)
    statuses = []
    for i in range(8):
        headers = {**basic(WRITE_KEY), "X-Forwarded-For": f"10.0.0.{i}"}
        async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=headers) as r:
            statuses.append(r.status)
    assert statuses.count(429) >= 4


async def test_forwarded_for_counts_behind_a_trusted_proxy(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """Behind a configured trusted proxy each forwarded client has its own bucket."""
    collector = await make_collector(
        per_ip_rate=1.0, per_key_rate=1000.0, trusted_proxies=("127.0.0.0/8",)
    )
    for i in range(6):
        headers = {**basic(WRITE_KEY), "X-Forwarded-For": f"203.0.113.{i}, 127.0.0.5"}
        async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=headers) as r:
            assert r.status == 200


async def test_per_key_limit_is_isolated_per_key(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """One source past its per-key budget gets 429; another source's key still gets through."""
    collector = await make_collector(per_ip_rate=1000.0, per_key_rate=1.0)
    statuses = []
    for _ in range(6):
        async with http.post(
            f"{collector.url}/v1/track", json=EVENT, headers=basic(WRITE_KEY)
        ) as r:
            statuses.append(r.status)
    assert statuses.count(429) >= 3
    async with http.post(f"{collector.url}/v1/track", json=EVENT, headers=basic(OTHER_KEY)) as r:
        assert r.status == 200
