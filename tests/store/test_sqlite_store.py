"""What only the durable store promises: state survives restarts and kill -9, the file is
private, and concurrent tasks and processes sharing it lose nothing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from leadgate.domain.profile import Profile
from leadgate.store.base import ProspectRecord, TokenSet
from leadgate.store.profile_records import seen_digest
from leadgate.store.sqlite import STATE_FILE, SqliteStore, open_store
from tests.plugins.clock import FakeClock

# A writer that reports each write only after the store's call returned (i.e. committed).
_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from leadgate.domain.profile import Profile
    from leadgate.store.base import TokenSet
    from leadgate.store.sqlite import open_store

    async def main() -> None:
        store = await open_store(Path(sys.argv[1]))
        i = 0
        while True:
            await store.put_profile([f"user:{i}"], Profile(traits={"n": i}))
            await store.mark_seen([f"m{i}"], ttl_s=3600)
            if i % 10 == 0:
                await store.save_tokens(TokenSet(f"a{i}", f"r{i}", float(i)))
            print(i, flush=True)
            i += 1

    asyncio.run(main())
    """
)


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Everything written before close is there when leadgate starts again."""
    store = await open_store(tmp_path)
    await store.put_profile(["user:1", "anon:a"], Profile(traits={"x": 1}, consent={"m": True}))
    await store.mark_seen(["m1"], ttl_s=3600)
    record = ProspectRecord(prospect_id=9, tags=frozenset({"t"}), attributes_hash="h")
    await store.put_prospect("ada@acme.example", record)
    await store.put_account("acme.example", 4)
    await store.save_tokens(TokenSet("a", "r", 5.0))
    await store.close()

    again = await open_store(tmp_path)
    try:
        assert await again.get_profile(["anon:a"]) == Profile(traits={"x": 1}, consent={"m": True})
        assert await again.seen(["m1", "m2"]) == {"m1"}
        assert await again.get_prospect("ada@acme.example") == record
        assert await again.get_account("acme.example") == 4
        assert await again.load_tokens() == TokenSet("a", "r", 5.0)
    finally:
        await again.close()


async def test_state_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    """The state file and its WAL (tokens, PII) are readable by their owner only."""
    state_dir = tmp_path / "deep" / "state"
    store = await open_store(state_dir)
    try:
        await store.save_tokens(TokenSet("a", "r", 1.0))
        path = state_dir / STATE_FILE
        for made in (
            path,
            path.with_name(STATE_FILE + "-wal"),
            path.with_name(STATE_FILE + "-shm"),
        ):
            assert stat.S_IMODE(made.stat().st_mode) == 0o600, made.name
        assert stat.S_IMODE(state_dir.stat().st_mode) & 0o077 == 0
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.close()


async def test_open_store_fails_at_once_when_the_dir_is_unusable(tmp_path: Path) -> None:
    """A state dir that is really a file fails at start-up, not at the first event."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(FileExistsError):
        await open_store(blocker)


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    """Using the store after close is a loud error, and closing twice is harmless."""
    store = await open_store(tmp_path)
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError):
        await store.seen(["m"])


async def test_expired_seen_ids_are_purged(tmp_path: Path) -> None:
    """Seen messageIds past their TTL are deleted, explicitly and now and then on write."""
    clock = FakeClock()
    store = SqliteStore(tmp_path / STATE_FILE, clock=clock)
    try:
        await store.mark_seen([f"old{i}" for i in range(50)], ttl_s=10)
        await store.mark_seen(["young"], ttl_s=1000)
        clock.now += 11
        assert await store.purge_expired() == 50
        assert await store.purge_expired() == 0
        await store.mark_seen(["a"], ttl_s=10)
        clock.now += 3600  # long past the purge interval: the next write purges by itself
        await store.mark_seen(["b"], ttl_s=10)
        with sqlite3.connect(tmp_path / STATE_FILE) as conn:
            left = {row[0] for row in conn.execute("SELECT digest FROM seen_digest")}
        assert left == {seen_digest("b")}
    finally:
        await store.close()


async def test_concurrent_tasks_lose_no_write(tmp_path: Path) -> None:
    """Hundreds of tasks writing and reading at once all see their own writes afterwards."""
    store = await open_store(tmp_path)

    async def one(i: int) -> None:
        await store.put_profile([f"user:{i}", f"anon:{i}"], Profile(traits={"n": i}))
        await store.mark_seen([f"m{i}"], ttl_s=60)
        await store.put_account(f"d{i}.example", i)
        assert (await store.get_profile([f"anon:{i}"])).traits == {"n": i}

    try:
        await asyncio.gather(*(one(i) for i in range(300)))
        assert await store.seen([f"m{i}" for i in range(300)]) == {f"m{i}" for i in range(300)}
        assert [await store.get_account(f"d{i}.example") for i in (0, 150, 299)] == [0, 150, 299]
    finally:
        await store.close()


async def test_two_processes_share_one_file(tmp_path: Path) -> None:
    """A processor and a delivery worker on one state file see each other's writes."""
    first = await open_store(tmp_path)
    second = await open_store(tmp_path)
    try:
        await asyncio.gather(
            *(first.mark_seen([f"a{i}"], ttl_s=60) for i in range(100)),
            *(second.mark_seen([f"b{i}"], ttl_s=60) for i in range(100)),
        )
        await first.put_profile(["user:1"], Profile(consent={"marketing": False}))
        assert (await second.get_profile(["user:1"])).consent == {"marketing": False}
        assert len(await second.seen([f"a{i}" for i in range(100)])) == 100
        assert len(await first.seen([f"b{i}" for i in range(100)])) == 100
    finally:
        await first.close()
        await second.close()


async def test_committed_writes_survive_kill_9(tmp_path: Path) -> None:
    """Every write that returned before the process was SIGKILLed is there after a restart."""
    # Popen (reads offloaded to a thread) rather than asyncio's subprocess: its exit status comes
    # from our own waitpid, not from the loop's child watcher.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, "the writer died before it was killed"
            acknowledged.append(int(line))
        proc.send_signal(signal.SIGKILL)
        # Lines already in the pipe were written (and committed) before the kill, too.
        acknowledged.extend(
            int(line) for line in (await asyncio.to_thread(proc.stdout.read)).split()
        )
    finally:
        if proc.poll() is None:
            proc.kill()
        await asyncio.to_thread(proc.wait, 30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 300

    with sqlite3.connect(tmp_path / STATE_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = await open_store(tmp_path)
    try:
        last = acknowledged[-1]
        for i in (0, last // 2, last):
            assert (await store.get_profile([f"user:{i}"])).traits == {"n": i}
        expected = {f"m{i}" for i in acknowledged}
        assert await store.seen(sorted(expected)) == expected
        tokens = await store.load_tokens()
        assert tokens is not None
        assert tokens.expires_at >= last - last % 10
    finally:
        await store.close()


async def test_stores_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    """Workers started together on a fresh state dir all open the store: the switch to WAL,
    which SQLite does not retry by itself, never fails with "database is locked"."""
    for round_ in range(5):
        path = tmp_path / f"shared-{round_}.db"
        stores = [SqliteStore(path) for _ in range(8)]
        try:
            await asyncio.gather(
                *(store.put_account("acme.com", n) for n, store in enumerate(stores))
            )
            seen = await asyncio.gather(*(store.get_account("acme.com") for store in stores))
            assert len(set(seen)) == 1, "every store reads the one shared file"
            assert seen[0] in range(8)
        finally:
            await asyncio.gather(*(store.close() for store in stores))


async def test_idle_anonymous_profiles_are_swept_on_write(tmp_path: Path) -> None:
    """Expired anonymous profiles and aliases leave the file through the sweep later writes run
    (a slice of the table at a time); users' profiles stay."""
    clock = FakeClock()
    store = SqliteStore(tmp_path / STATE_FILE, clock=clock, anonymous_profile_idle_s=60)
    try:
        profile = Profile(traits={"n": 1})
        await store.put_profiles({"user:u": profile, "anon:a": profile})
        await store.put_profiles({f"anon:{i}": Profile(traits={"n": i}) for i in range(100)})
        clock.now += 61
        await store.mark_seen(["m"], ttl_s=10)
        with sqlite3.connect(tmp_path / STATE_FILE) as conn:
            left = [row[0] for row in conn.execute("SELECT key FROM profile")]
        assert left == ["user:u"]
    finally:
        await store.close()


_PREVIOUS_LAYOUT = """
CREATE TABLE profiles (key TEXT PRIMARY KEY, body BLOB NOT NULL, expires_at REAL);
CREATE INDEX profiles_expiry ON profiles (expires_at);
CREATE TABLE seen (message_id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE INDEX seen_expiry ON seen (expires_at);
CREATE TABLE docs (collection TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL,
                   expires_at REAL, PRIMARY KEY (collection, key));
CREATE INDEX docs_expiry ON docs (expires_at);
CREATE TABLE prospects (email TEXT PRIMARY KEY, prospect_id INTEGER NOT NULL, tags BLOB NOT NULL,
                        attributes_hash TEXT NOT NULL, account_id INTEGER);
"""


async def test_a_file_of_the_previous_layout_opens_and_loses_nothing(tmp_path: Path) -> None:
    """A state file written by the previous version (a body per identity key, full messageIds,
    a rowid documents table) is converted when opened: every profile, seen id, document and
    prospect is still there, and new writes use the new layout."""
    clock = FakeClock()
    path = tmp_path / STATE_FILE
    body = b'{"traits":{"title":"CTO"},"consent":{"marketing":true}}'
    with sqlite3.connect(path) as conn:
        conn.executescript(_PREVIOUS_LAYOUT)
        conn.executemany(
            "INSERT INTO profiles VALUES (?, ?, ?)",
            [("user:1", body, None), ("anon:a", body, clock.now + 100.5)],
        )
        conn.execute("INSERT INTO seen VALUES ('m-old', ?)", (clock.now + 50,))
        conn.execute("INSERT INTO seen VALUES ('m-gone', ?)", (clock.now - 1,))
        conn.execute(
            "INSERT INTO docs VALUES ('mirror.email', 'ada@acme.example', '{\"prospectId\": 3}',"
            " NULL)"
        )
        conn.execute("INSERT INTO prospects VALUES ('ada@acme.example', 3, '[\"t\"]', 'h', NULL)")
    store = SqliteStore(path, clock=clock)
    try:
        expected = Profile(traits={"title": "CTO"}, consent={"marketing": True})
        assert await store.get_profiles(["user:1", "anon:a"]) == {
            "user:1": expected,
            "anon:a": expected,
        }
        assert await store.seen(["m-old", "m-new", "m-gone"]) == {"m-old"}
        assert await store.get_docs("mirror.email", ["ada@acme.example"]) == {
            "ada@acme.example": {"prospectId": 3}
        }
        record = await store.get_prospect("ada@acme.example")
        assert record is not None
        assert record.prospect_id == 3
        clock.now += 101
        assert await store.get_profiles(["anon:a"]) == {}, "the old expiry still holds"
        await store.put_profiles({"user:1": expected, "anon:b": expected})
        assert await store.linked_identities(["anon:b"]) == {"anon:b", "user:1"}
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        docs = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'docs'").fetchone()[0]
    assert {"profiles", "seen"}.isdisjoint(tables)
    assert "WITHOUT ROWID" in docs
    again = SqliteStore(path, clock=clock)  # a converted file opens as it is
    try:
        assert (await again.get_profiles(["user:1"]))["user:1"] == expected
    finally:
        await again.close()
