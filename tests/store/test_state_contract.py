"""The StateStore contract, run against every store in ``conftest.STORE_FACTORIES``."""

from __future__ import annotations

from leadgate.domain.profile import Profile
from leadgate.store.base import ProspectRecord, StateStore, TokenSet
from tests.plugins.clock import FakeClock
from tests.store.conftest import ANONYMOUS_IDLE_S


async def test_unknown_keys_give_an_empty_profile(store: StateStore) -> None:
    """A visitor never seen before has no traits and no consent."""
    profile = await store.get_profile(["user:nobody"])
    assert profile == Profile()


async def test_profile_is_found_under_every_identity(store: StateStore) -> None:
    """A profile written under userId and anonymousId is found by either id later."""
    written = Profile(traits={"email": "a@b.example"}, consent={"marketing": True})
    await store.put_profile(["user:1", "anon:x"], written)
    assert await store.get_profile(["anon:x"]) == written
    assert await store.get_profile(["user:1"]) == written


async def test_first_key_wins_per_field(store: StateStore) -> None:
    """When two identities disagree, the first key's value wins and the rest fill gaps."""
    await store.put_profile(["user:1"], Profile(traits={"title": "CTO"}, consent={"ads": False}))
    await store.put_profile(
        ["anon:x"], Profile(traits={"title": "Dev", "city": "Oslo"}, consent={"ads": True})
    )
    merged = await store.get_profile(["user:1", "anon:x"])
    assert merged.traits == {"title": "CTO", "city": "Oslo"}
    assert merged.consent == {"ads": False}


async def test_profiles_are_read_and_written_per_batch(store: StateStore) -> None:
    """A batch write stores each key's profile, and a batch read returns each stored key's own
    profile (unmerged) and leaves out keys with nothing stored."""
    first = Profile(traits={"email": "a@b.example"}, consent={"marketing": True})
    second = Profile(traits={"title": "CTO"})
    await store.put_profiles({"user:1": first, "anon:x": first, "user:2": second})
    await store.put_profiles({})
    found = await store.get_profiles(["user:1", "anon:x", "user:2", "user:nobody", "user:1"])
    assert found == {"user:1": first, "anon:x": first, "user:2": second}
    assert await store.get_profiles([]) == {}
    assert await store.get_profile(["anon:x"]) == first
    await store.put_profile(["user:2"], first)
    assert (await store.get_profiles(["user:2"]))["user:2"] == first


async def test_batch_profile_reads_span_many_keys(store: StateStore) -> None:
    """A batch read of more keys than one SQL statement may bind still finds every profile."""
    await store.put_profiles({f"anon:{i}": Profile(traits={"n": i}) for i in range(2500)})
    found = await store.get_profiles([f"anon:{i}" for i in range(2600)])
    assert len(found) == 2500
    assert found["anon:2499"].traits == {"n": 2499}


async def test_seen_message_ids_expire_after_their_ttl(store: StateStore, clock: FakeClock) -> None:
    """A messageId counts as a duplicate for its whole TTL, and is forgotten by a quarter of the
    TTL later (the store's expiry window)."""
    await store.mark_seen(["m1", "m2"], ttl_s=60)
    assert await store.seen(["m1", "m3"]) == {"m1"}
    clock.now += 59
    assert await store.seen(["m1", "m2", "m3"]) == {"m1", "m2"}
    clock.now += 60 / 4 + 2
    assert await store.seen(["m1", "m2"]) == set()


async def test_prospects_are_remembered_and_forgotten(store: StateStore) -> None:
    """The id, tags and attribute hash of a prospect round-trip, and forgetting removes them."""
    record = ProspectRecord(
        prospect_id=7, tags=frozenset({"a", "b"}), attributes_hash="h", account_id=3
    )
    await store.put_prospect("ada@acme.example", record)
    assert await store.get_prospect("ada@acme.example") == record
    await store.forget_prospect("ada@acme.example")
    assert await store.get_prospect("ada@acme.example") is None
    await store.forget_prospect("ada@acme.example")


async def test_accounts_by_domain(store: StateStore) -> None:
    """An account id is remembered per domain, and forgotten again (twice is harmless)."""
    assert await store.get_account("acme.example") is None
    await store.put_account("acme.example", 42)
    await store.put_account("other.example", 7)
    assert await store.get_account("acme.example") == 42
    await store.forget_account("acme.example")
    assert await store.get_account("acme.example") is None
    assert await store.get_account("other.example") == 7
    await store.forget_account("acme.example")


async def test_latest_tokens_win(store: StateStore) -> None:
    """After a rotation the store returns the newest token set."""
    assert await store.load_tokens() is None
    await store.save_tokens(TokenSet("a1", "r1", 100.0))
    await store.save_tokens(TokenSet("a2", "r2", 200.0))
    assert await store.load_tokens() == TokenSet("a2", "r2", 200.0)


async def test_anonymous_profiles_expire_when_idle(store: StateStore, clock: FakeClock) -> None:
    """An anonymous visitor's profile is gone after the idle time without a change; a known
    user's stays, and a change restarts the anonymous one's clock."""
    await store.put_profiles(
        {"anon:a": Profile(traits={"n": 1}), "user:u": Profile(traits={"n": 2})}
    )
    await store.put_profile(["anon:b"], Profile(traits={"n": 3}))
    clock.now += ANONYMOUS_IDLE_S - 10
    await store.put_profile(["anon:b"], Profile(traits={"n": 4}))
    clock.now += 20
    found = await store.get_profiles(["anon:a", "anon:b", "user:u"])
    assert found == {"anon:b": Profile(traits={"n": 4}), "user:u": Profile(traits={"n": 2})}


async def test_an_alias_follows_its_body(store: StateStore) -> None:
    """A profile written for a user and an anonymous id together is one body: a later write to
    the user key is what a read of the anonymous id answers."""
    first = Profile(traits={"email": "a@b.example"}, consent={"marketing": True})
    await store.put_profiles({"user:1": first, "anon:x": first})
    later = Profile(traits={"email": "a@b.example", "title": "CTO"}, consent={"marketing": False})
    await store.put_profile(["user:1"], later)
    found = await store.get_profiles(["anon:x", "user:1"])
    assert found == {"anon:x": later, "user:1": later}
    assert found["anon:x"] is found["user:1"], "one body, read once"
    assert await store.linked_identities(["anon:x"]) == {"anon:x", "user:1"}
    assert await store.linked_identities(["user:1"]) == {"anon:x", "user:1"}


async def test_forgetting_a_body_erases_its_aliases(store: StateStore) -> None:
    """Deleting a user's profile deletes the anonymous ids that pointed at it (from every
    device), and nothing of another visitor."""
    mine = Profile(traits={"title": "CTO"})
    other = Profile(traits={"title": "Dev"})
    await store.put_profiles({"user:1": mine, "anon:phone": mine, "user:2": other, "anon:o": other})
    await store.put_profiles({"user:1": mine, "anon:laptop": mine})
    assert await store.linked_identities(["user:1"]) == {"user:1", "anon:phone", "anon:laptop"}
    assert await store.delete_profiles(["user:1"]) == 3
    assert await store.get_profiles(["user:1", "anon:phone", "anon:laptop", "anon:o"]) == {
        "anon:o": other
    }


async def test_an_anonymous_alias_expires_but_the_user_body_stays(
    store: StateStore, clock: FakeClock
) -> None:
    """An anonymous id idle for longer than the idle time no longer finds the user's profile;
    the user's own key still does."""
    profile = Profile(consent={"marketing": True})
    await store.put_profiles({"user:1": profile, "anon:x": profile})
    clock.now += ANONYMOUS_IDLE_S + 1
    assert await store.get_profiles(["anon:x", "user:1"]) == {"user:1": profile}
