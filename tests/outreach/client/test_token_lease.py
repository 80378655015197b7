"""One token refresh for every process sharing the state store: a lease in Redis makes the
refresh single-flight across processes, and the others adopt the pair it stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from leadgate.outreach.auth import LEASE_COLLECTION, LEASE_KEY
from leadgate.outreach.client import OutreachClient
from leadgate.store.base import TokenSet
from leadgate.store.redis import RedisStore
from tests.outreach.client.helpers import make_settings
from tests.plugins.redis import RedisServer
from tests.plugins.sandbox import MakeSandbox, SandboxHandle

PROCESSES = 5


async def _mints(sandbox: SandboxHandle) -> int:
    """Requests to the token endpoint (refused ones included)."""
    return sum(1 for r in await sandbox.requests() if r["path"] == "/oauth/token")


async def test_five_processes_starting_together_mint_one_token(
    make_sandbox: MakeSandbox, redis_server: RedisServer, redis_namespace: str
) -> None:
    """Five clients with their own Redis connections and no stored token ask for one together:
    the sandbox (one mint per 60 s, rotating refresh tokens) sees a single refresh, and every
    client ends up with the same access token."""
    sandbox = await make_sandbox()
    settings = make_settings(sandbox.url)
    stores = [RedisStore(redis_server.url, namespace=redis_namespace) for _ in range(PROCESSES)]
    try:
        clients = [OutreachClient(settings, store) for store in stores]
        for client in clients:
            await client.__aenter__()
        tokens = await asyncio.gather(*(c.auth.access_token() for c in clients))
        for client in clients:
            await client.close()
    finally:
        for store in stores:
            await store.close()
    assert await _mints(sandbox) == 1
    assert len(set(tokens)) == 1
    assert sum(c.auth.refreshes for c in clients) == 1


async def test_a_lease_left_by_a_dead_process_expires(
    make_sandbox: MakeSandbox, redis_server: RedisServer, redis_namespace: str
) -> None:
    """A lease whose holder died (it never stored a pair) holds the others back only until it
    expires; then one of them refreshes."""
    sandbox = await make_sandbox()
    settings = make_settings(sandbox.url, total_timeout_s=1.0)
    store = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        await store.put_doc_if_absent(LEASE_COLLECTION, LEASE_KEY, {"holder": "dead"}, ttl_s=1.5)
        async with OutreachClient(settings, store) as client:
            token = await asyncio.wait_for(client.auth.access_token(), timeout=10)
        assert token
        assert await _mints(sandbox) == 1
        stored = await store.load_tokens()
        assert isinstance(stored, TokenSet)
        assert stored.access_token == token
    finally:
        await store.close()


async def test_a_process_holding_a_rejected_token_adopts_the_newer_pair(
    make_sandbox: MakeSandbox, redis_server: RedisServer, redis_namespace: str
) -> None:
    """After one process rotated the pair, another whose token was rejected takes the stored
    pair instead of refreshing with its dead refresh token (no second mint, no invalid_grant)."""
    sandbox = await make_sandbox()
    settings = make_settings(sandbox.url)
    one = RedisStore(redis_server.url, namespace=redis_namespace)
    two = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        async with OutreachClient(settings, one) as first, OutreachClient(settings, two) as second:
            old = await first.auth.access_token()
            await one.save_tokens(TokenSet("newer-access", "newer-refresh", 4_000_000_000.0))
            assert await second.auth.replace(old) == "newer-access"
            assert second.auth.refreshes == 0
    finally:
        await one.close()
        await two.close()
    assert await _mints(sandbox) == 1


class _SlowFirstRead(RedisStore):
    """A store whose first read of the pair answers only after ``meanwhile`` ran: what a
    process read just before another process's whole refresh (store, then let go of the lease)."""

    def __init__(self, url: str, *, namespace: str) -> None:
        super().__init__(url, namespace=namespace)
        self.meanwhile: Callable[[], Awaitable[object]] | None = None

    async def load_tokens(self) -> TokenSet | None:
        seen = await super().load_tokens()
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return seen


async def test_a_refresh_that_ended_between_a_read_and_the_lease_is_adopted(
    make_sandbox: MakeSandbox, redis_server: RedisServer, redis_namespace: str
) -> None:
    """Process B reads no pair, then A refreshes, stores and lets go of the lease before B
    claims it: B adopts A's pair instead of refreshing with the token A already used (which
    Outreach refuses: a second, failed mint)."""
    sandbox = await make_sandbox()
    settings = make_settings(sandbox.url)
    store_a = RedisStore(redis_server.url, namespace=redis_namespace)
    store_b = _SlowFirstRead(redis_server.url, namespace=redis_namespace)
    try:
        async with OutreachClient(settings, store_a) as a, OutreachClient(settings, store_b) as b:
            store_b.meanwhile = a.auth.access_token
            token_b = await b.auth.access_token()
            token_a = await a.auth.access_token()
    finally:
        await store_a.close()
        await store_b.close()
    assert token_b == token_a
    assert await _mints(sandbox) == 1
