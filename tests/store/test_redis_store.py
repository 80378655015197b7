"""What only the Redis store promises: TTLs on its keys, a bounded key index, one setting to
select it (and a loud failure when it is unreachable)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from leadgate.domain.profile import Profile
from leadgate.settings import Settings, StateSettings
from leadgate.store.opening import open_configured_store
from leadgate.store.redis import RedisStore
from leadgate.store.sqlite import SqliteStore
from tests.plugins.redis import RedisServer
from tests.store.conftest import FakeClock


async def test_caches_and_anonymous_profiles_carry_redis_ttls(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Seen ids, anonymous profiles and TTL documents have a Redis TTL; known users' profiles and
    documents without a TTL have none."""
    store = RedisStore(redis_server.url, namespace=redis_namespace, anonymous_profile_idle_s=600)
    try:
        await store.mark_seen(["m1"], ttl_s=120)
        await store.put_profiles({"anon:a": Profile(), "user:u": Profile()})
        await store.put_docs("cache", {"k": {"v": 1}}, ttl_s=30)
        await store.put_docs("mirror", {"k": {"v": 1}})
        ttl = store.redis.ttl
        assert 0 < await ttl(store.key("s:", "m1")) <= 120
        assert 0 < await ttl(store.key("p:", "anon:a")) <= 600
        assert await ttl(store.key("p:", "user:u")) == -1
        assert 0 < await ttl(store.key("d:", "{cache}:k")) <= 30
        assert await ttl(store.key("d:", "{mirror}:k")) == -1
    finally:
        await store.close()


async def test_expired_documents_leave_the_key_index(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Once their TTL has passed, documents are swept from the collection's index by the next
    write, so the index does not grow with every short-lived document ever written."""
    clock = FakeClock()
    store = RedisStore(redis_server.url, namespace=redis_namespace, clock=clock)
    try:
        await store.put_docs("webhook.seen", {f"e{i}": {} for i in range(50)}, ttl_s=60)
        clock.now += 61
        await store.put_docs("webhook.seen", {"fresh": {}}, ttl_s=60)
        index = store.key("di:", "{webhook.seen}")
        assert await store.redis.zrange(index, 0, -1) == [b"fresh"]
        assert await store.scan_docs("webhook.seen") == [("fresh", {})]
    finally:
        await store.close()


async def test_one_setting_selects_the_store(
    tmp_path: Path, redis_server: RedisServer, redis_namespace: str
) -> None:
    """state.url set opens Redis (state written there is seen by another store on the same URL);
    unset opens the SQLite file under state_dir."""
    state = StateSettings(url=SecretStr(redis_server.url), namespace=redis_namespace)
    first = await open_configured_store(Settings(state_dir=tmp_path, state=state))
    second = await open_configured_store(Settings(state_dir=tmp_path, state=state))
    embedded = await open_configured_store(Settings(state_dir=tmp_path))
    try:
        assert isinstance(first, RedisStore)
        assert isinstance(embedded, SqliteStore)
        await first.put_profile(["user:1"], Profile(traits={"title": "CTO"}))
        assert (await second.get_profile(["user:1"])).traits == {"title": "CTO"}
        assert await embedded.get_profiles(["user:1"]) == {}
    finally:
        for store in (first, second, embedded):
            await store.close()


async def test_an_unreachable_redis_fails_at_start(tmp_path: Path) -> None:
    """A state.url nobody answers on fails when the store is opened, not at the first event."""
    dead = StateSettings(url=SecretStr("redis://127.0.0.1:1/0"))
    with pytest.raises(aioredis.ConnectionError):
        await open_configured_store(Settings(state_dir=tmp_path, state=dead))


def test_the_url_must_be_a_redis_url() -> None:
    """Anything but a redis://, rediss:// or unix:// URL is a configuration error."""
    with pytest.raises(ValueError, match="redis://"):
        StateSettings(url=SecretStr("http://127.0.0.1:6379"))
