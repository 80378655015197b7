"""The collections contract (JSON documents by collection and key), run against every store."""

from __future__ import annotations

from leadgate.domain.profile import Profile
from leadgate.store.base import StateStore
from tests.plugins.clock import FakeClock


async def test_documents_round_trip_per_collection(store: StateStore) -> None:
    """A document is found under its own collection and key only, as it was stored."""
    await store.put_docs("mirror", {"prospect:1": {"tags": ["a", "b"], "owner": 7}})
    assert await store.get_docs("mirror", ["prospect:1", "prospect:2"]) == {
        "prospect:1": {"tags": ["a", "b"], "owner": 7}
    }
    assert await store.get_docs("enrolments", ["prospect:1"]) == {}


async def test_documents_expire_after_their_ttl(store: StateStore, clock: FakeClock) -> None:
    """A document with a TTL is gone once the TTL has passed; one without stays."""
    await store.put_docs("dedupe", {"a": {"n": 1}}, ttl_s=60)
    await store.put_docs("dedupe", {"b": {"n": 2}})
    clock.now += 61
    assert await store.get_docs("dedupe", ["a", "b"]) == {"b": {"n": 2}}


async def test_claim_succeeds_once_until_expiry(store: StateStore, clock: FakeClock) -> None:
    """put_doc_if_absent stores only the first claim, and again after the first one expired."""
    assert await store.put_doc_if_absent("claims", "k", {"by": 1}, ttl_s=10)
    assert not await store.put_doc_if_absent("claims", "k", {"by": 2}, ttl_s=10)
    assert await store.get_docs("claims", ["k"]) == {"k": {"by": 1}}
    clock.now += 11
    assert await store.put_doc_if_absent("claims", "k", {"by": 3})
    assert await store.get_docs("claims", ["k"]) == {"k": {"by": 3}}


async def test_delete_and_scan_by_prefix(store: StateStore) -> None:
    """scan_docs lists keys with a prefix in key order; delete_docs counts what existed."""
    await store.put_docs("s", {"h:2": {"i": 2}, "h:1": {"i": 1}, "x:1": {"i": 9}})
    assert await store.scan_docs("s", prefix="h:") == [("h:1", {"i": 1}), ("h:2", {"i": 2})]
    assert await store.delete_docs("s", ["h:1", "h:3"]) == 1
    assert [key for key, _ in await store.scan_docs("s")] == ["h:2", "x:1"]


async def test_counters_increment_atomically(store: StateStore) -> None:
    """incr starts at zero and returns the new value; counters are per collection and key."""
    assert await store.incr("rotation", "rule-a") == 1
    assert await store.incr("rotation", "rule-a") == 2
    assert await store.incr("rotation", "rule-b", by=5) == 5


async def test_delete_profiles_erases_only_the_named_keys(store: StateStore) -> None:
    """delete_profiles removes the profiles under the given keys (counting those that existed)
    and leaves every other profile as it was."""
    jane = Profile(traits={"email": "jane@acme.com"})
    joe = Profile(traits={"email": "joe@acme.com"})
    await store.put_profile(["user:1", "anon:1"], jane)
    await store.put_profile(["user:2"], joe)
    assert await store.delete_profiles(["user:1", "anon:1", "user:9"]) == 2
    assert await store.get_profiles(["user:1", "anon:1", "user:2"]) == {"user:2": joe}
    assert await store.delete_profiles([]) == 0
