"""``leadgate privacy forget|list|unsuppress`` against the embedded broker and a state dir of
their own: entries listed by hash (never a raw value), lifted by hash or by identifier, and
arguments that name nobody refused."""

from __future__ import annotations

from pathlib import Path

import orjson

from leadgate.domain.profile import Profile
from leadgate.store.sqlite import open_store
from tests.plugins.cli import Cli


async def test_forget_list_and_unsuppress(cli: Cli, tmp_path: Path) -> None:
    """A forget by userId erases the profile and leaves two entries (the id and the email its
    profile held), listed by hash and kind with no raw value; unsuppress by email lifts one."""
    store = await open_store(tmp_path / "state")
    try:
        await store.put_profile(["user:u-7"], Profile(traits={"email": "Sam@Example.org"}))
    finally:
        await store.close()

    code, out, _ = await cli("privacy", "forget", "--user-id", "u-7", "--json")
    assert code == 0
    report = orjson.loads(out)
    assert report["finished"] is True
    assert report["erased"]["profiles"] == 1
    assert any(
        "leadgate.deadletter" in line or "deadletter" in line for line in report["notErased"]
    )

    code, out, _ = await cli("privacy", "list", "--json")
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert code == 0
    assert sorted(r["kind"] for r in rows) == ["email", "user"]
    assert "u-7" not in out
    assert "sam" not in out.lower()

    code, out, _ = await cli("privacy", "unsuppress", "--email", "sam@example.org")
    assert code == 0
    assert "lifted 1 suppression entry" in out
    code, out, _ = await cli("privacy", "list", "--json")
    assert [orjson.loads(line)["kind"] for line in out.splitlines()] == ["user"]
    (entry,) = [orjson.loads(line) for line in out.splitlines()]
    code, out, _ = await cli("privacy", "unsuppress", entry["hash"])
    assert code == 0
    code, out, _ = await cli("privacy", "list", "--json")
    assert out == ""


async def test_arguments_that_name_nobody_are_refused(cli: Cli) -> None:
    """forget without a person, or with an unusable address, exits 2 and changes nothing."""
    code, _, _ = await cli("privacy", "forget")
    assert code == 2
    code, _, err = await cli("privacy", "forget", "--email", "Bob <b@x.com>")
    assert code == 2
    assert "b@x.com" not in err
    code, out, _ = await cli("privacy", "list", "--json")
    assert out == ""
