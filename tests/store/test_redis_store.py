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
from leadgate.store.redis_docs import RedisCollections
from leadgate.store.redis_profiles import PROFILE_SHARDS
from leadgate.store.sqlite import SqliteStore
from tests.plugins.clock import FakeClock
from tests.plugins.redis import RedisServer


async def test_seen_ids_and_caches_carry_redis_ttls(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Seen-id windows and TTL documents have a Redis TTL (a window at most a quarter longer
    than the seen ids' TTL); documents without a TTL have none."""
    store = RedisStore(redis_server.url, namespace=redis_namespace, anonymous_profile_idle_s=600)
    try:
        await store.mark_seen(["m1"], ttl_s=120)
        await store.put_docs("cache", {"k": {"v": 1}}, ttl_s=30)
        await store.put_docs("mirror", {"k": {"v": 1}})
        ttl = store.redis.ttl
        windows = [k async for k in store.redis.scan_iter(match=store.key("S:") + "*")]
        assert len(windows) == 1
        assert 120 <= await ttl(windows[0]) <= 150
        assert 120 <= await ttl(store.key("Sg")) <= 150
        assert 0 < await ttl(store.key("d:", "{cache}:k")) <= 30
        assert await ttl(store.key("d:", "{mirror}:k")) == -1
    finally:
        await store.close()


async def test_profiles_share_a_few_hashes_and_expired_ones_are_swept(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Profiles live as entries of at most PROFILE_SHARDS hashes (no key per visitor), and an
    idle anonymous entry is deleted by the sweep that later writes run, while a user's stays."""
    clock = FakeClock()
    store = RedisStore(
        redis_server.url, namespace=redis_namespace, clock=clock, anonymous_profile_idle_s=600
    )
    try:
        await store.put_profiles({f"anon:{i}": Profile(traits={"n": i}) for i in range(300)})
        await store.put_profiles({"user:u": Profile(traits={"n": 1})})
        hashes = [k async for k in store.redis.scan_iter(match=store.key("P:") + "*")]
        assert 0 < len(hashes) <= PROFILE_SHARDS
        assert [await store.redis.ttl(h) for h in hashes] == [-1] * len(hashes)
        clock.now += 601
        for _ in range(PROFILE_SHARDS):  # each write sweeps one hash
            await store.put_profiles({"user:u": Profile(traits={"n": 2})})
        left = [field for h in hashes for field in await store.redis.hkeys(h)]
        assert left == [b"uu"], "the entry of user:u (its field shortened)"
    finally:
        await store.close()


async def test_profiles_of_the_previous_layout_are_still_read(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """A profile under a key of the previous layout (``p:<identity>``, a JSON value) is read
    until it is written again (then the old key goes) or forgotten."""
    store = RedisStore(redis_server.url, namespace=redis_namespace)
    try:
        old = b'{"traits":{"title":"CTO"},"consent":{"marketing":true}}'
        await store.redis.set(store.key("p:", "user:old"), old)
        await store.redis.set(store.key("p:", "anon:old"), b"e9999999999.5|" + old)
        expected = Profile(traits={"title": "CTO"}, consent={"marketing": True})
        found = await store.get_profiles(["user:old", "anon:old"])
        assert found == {"user:old": expected, "anon:old": expected}
        await store.put_profile(["user:old"], Profile(traits={"title": "CEO"}))
        assert await store.redis.exists(store.key("p:", "user:old")) == 0
        assert await store.delete_profiles(["anon:old"]) == 1
        assert await store.get_profiles(["anon:old"]) == {}
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


async def test_the_person_index_is_packed_and_reads_the_previous_layout(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    """Documents of a packed collection (the person index) keep the collection contract —
    lookup, prefix scan in key order, TTL, claim, delete — without a Redis key each, and those
    the previous version stored one key each are still found and deleted."""
    clock = FakeClock()
    store = RedisStore(redis_server.url, namespace=redis_namespace, clock=clock)
    person = "privacy.person"
    try:
        await RedisCollections.put_docs(store, person, {"e1:old": {"identity": "user:o"}})
        await store.put_docs(person, {"e1:b": {"i": "user:b"}, "e2:a": {"i": "user:c"}})
        await store.put_docs(person, {"e1:a": {"i": "anon:a"}}, ttl_s=60)
        assert await store.redis.exists(store.key("d:", "{privacy.person}:e1:b")) == 0
        assert await store.scan_docs(person, prefix="e1:") == [
            ("e1:a", {"i": "anon:a"}),
            ("e1:b", {"i": "user:b"}),
            ("e1:old", {"identity": "user:o"}),
        ]
        assert not await store.put_doc_if_absent(person, "e1:a", {"i": "x"})
        clock.now += 61
        assert await store.get_docs(person, ["e1:a", "e1:b"]) == {"e1:b": {"i": "user:b"}}
        assert await store.put_doc_if_absent(person, "e1:a", {"i": "anon:z"})
        assert await store.delete_docs(person, ["e1:a", "e1:b", "e1:old", "e9:x"]) == 3
        assert await store.scan_docs(person, prefix="e1:") == []
        assert await store.scan_docs(person) == [("e2:a", {"i": "user:c"})]
    finally:
        await store.close()
