"""How calls reach the SQLite file: small reads answer inline on the event loop's thread, see
every committed write and never the uncommitted one, and go to the store's thread when the
read is large or the caller is another thread."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from leadgate.domain.profile import Profile
from leadgate.store.base import ProspectRecord
from leadgate.store.sqlite import STATE_FILE, open_store
from leadgate.store.sqlite_access import INLINE_MAX_KEYS


def _answers_without_yielding(coro: object) -> object:
    """Run a coroutine one step: its value if it finished without waiting for anything."""
    assert asyncio.iscoroutine(coro)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the read waited (it went to the store's thread)")


async def test_point_reads_answer_inline(tmp_path: Path) -> None:
    """A prospect, an account, seen ids, a few profiles and documents are read without a hop
    to the store's thread, and each read sees the write that returned before it."""
    store = await open_store(tmp_path)
    try:
        record = ProspectRecord(prospect_id=7, tags=frozenset({"t"}), attributes_hash="h")
        await store.put_prospect("ada@acme.example", record)
        await store.put_account("acme.example", 4)
        await store.mark_seen(["m1"], ttl_s=60)
        await store.put_profile(["user:1", "anon:a"], Profile(traits={"n": 1}))
        await store.put_docs("suppression", {"h1": {"at": 1}})

        assert _answers_without_yielding(store.get_prospect("ada@acme.example")) == record
        assert _answers_without_yielding(store.get_account("acme.example")) == 4
        assert _answers_without_yielding(store.seen(["m1", "m2"])) == {"m1"}
        profiles = _answers_without_yielding(store.get_profiles(["anon:a", "user:2"]))
        assert isinstance(profiles, dict)
        assert profiles["anon:a"].traits == {"n": 1}
        assert _answers_without_yielding(store.get_docs("suppression", ["h1"])) == {"h1": {"at": 1}}
    finally:
        await store.close()


async def test_a_large_read_goes_to_the_thread_and_answers_the_same(tmp_path: Path) -> None:
    """A read of more keys than run inline is answered by the store's thread, completely."""
    store = await open_store(tmp_path)
    try:
        ids = [f"m{i}" for i in range(INLINE_MAX_KEYS * 3)]
        await store.mark_seen(ids[::2], ttl_s=60)
        assert await store.seen(ids) == set(ids[::2])
    finally:
        await store.close()


async def test_an_inline_read_does_not_see_an_uncommitted_write(tmp_path: Path) -> None:
    """While another connection holds the write lock mid-transaction, a read answers at once
    with the last committed value."""
    store = await open_store(tmp_path)
    other = sqlite3.connect(tmp_path / STATE_FILE, isolation_level=None)
    try:
        await store.put_account("acme.example", 1)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE accounts SET account_id = 2 WHERE domain = 'acme.example'")
        assert _answers_without_yielding(store.get_account("acme.example")) == 1
        other.execute("COMMIT")
        assert await store.get_account("acme.example") == 2
    finally:
        other.close()
        await store.close()


async def test_a_read_from_another_thread_is_answered(tmp_path: Path) -> None:
    """The inline connection belongs to the first thread that read; a second thread's event
    loop is answered through the store's thread."""
    store = await open_store(tmp_path)
    try:
        await store.put_account("acme.example", 5)
        assert await store.get_account("acme.example") == 5  # this thread reads inline
        answers: list[int | None] = []

        def elsewhere() -> None:
            answers.append(asyncio.run(store.get_account("acme.example")))

        await asyncio.to_thread(elsewhere)  # this loop runs on meanwhile
        assert answers == [5]
    finally:
        await store.close()
