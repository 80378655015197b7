"""``leadgate outreach``: webhook registration that never touches others' webhooks, and a
resumable keyset export of every prospect, against the real sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from leadgate.commands.outreach import manage_webhooks, run_export
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.export import export
from leadgate.runtime.services import state_store
from leadgate.settings import Settings
from leadgate.store.memory import MemoryStore
from leadgate.store.mirror import Mirror
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api

SECRET = "whsec-cli-0123456789abcdef"


def _settings(sandbox: SandboxHandle, tmp_path: Path, **outreach: Any) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        outreach={"base_url": sandbox.url, "budget_per_hour": 1_000_000, **outreach},
    )


async def _api(sandbox: SandboxHandle) -> Api:
    refresh = await sandbox.issue_refresh_token("webhooks.all", "prospects.all")
    return Api(sandbox, await sandbox.token_for(refresh))


async def test_ensure_reuses_ours_repairs_it_and_never_touches_others(
    make_sandbox: MakeSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ensure creates our webhook once, re-activates it when disabled, leaves a stranger's
    webhook alone; remove deletes only ours."""
    sandbox = await make_sandbox(mint_interval_s=0)
    url = "http://127.0.0.1:9/outreach/webhooks"
    settings = _settings(sandbox, tmp_path, webhook_url=url, webhook_secrets=[SECRET])
    api = await _api(sandbox)
    stranger = await api.create("webhooks", {"url": "https://crm.example/hooks", "secret": "x"})
    assert await manage_webhooks(settings, "ensure") == 0
    assert await manage_webhooks(settings, "ensure") == 0
    hooks = await sandbox._get("webhooks")
    ours = [h for h in hooks if h["attributes"]["url"] == url]
    assert len(ours) == 1
    assert ours[0]["attributes"]["secret"] == SECRET
    assert ours[0]["attributes"]["resource"] == "*"
    assert ours[0]["attributes"]["action"] == "*"
    await api.patch("webhooks", ours[0]["id"], {"active": False})
    assert await manage_webhooks(settings, "ensure") == 0
    out = capsys.readouterr().out
    assert "created" in out
    assert "unchanged" in out
    assert "repaired" in out
    assert [h["attributes"]["active"] for h in await sandbox._get("webhooks")] == [True, True]
    assert await manage_webhooks(settings, "list") == 0
    assert "(leadgate)" in capsys.readouterr().out
    assert await manage_webhooks(settings, "remove") == 0
    assert [h["id"] for h in await sandbox._get("webhooks")] == [stranger.json["data"]["id"]]


async def _seed(api: Api, count: int) -> None:
    for start in range(0, count, 100):
        replies = await asyncio.gather(
            *(
                api.create("prospects", {"emails": [f"p{n}@acme.com"], "tags": ["seed"]})
                for n in range(start, min(count, start + 100))
            )
        )
        assert {r.status for r in replies} == {201}


async def test_export_writes_one_line_per_prospect_by_keyset(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """1,200 prospects become 1,200 lines in id order, read by id windows (no offsets) after one
    request for the total and the highest id; the mirror is seeded with --to-mirror."""
    sandbox = await make_sandbox(mint_interval_s=0)
    await _seed(await _api(sandbox), 1200)
    out = tmp_path / "prospects.jsonl"
    settings = _settings(sandbox, tmp_path)
    assert await run_export(settings, "prospects", out, None, True, False) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1200
    assert [orjson.loads(line)["id"] for line in lines] == list(range(1, 1201))
    reads = [
        r
        for r in await sandbox.api_requests()
        if r["path"] == "/api/v2/prospects" and r["method"] == "GET"
    ]
    assert (reads[0]["query"]["count"], reads[0]["query"]["sort"]) == ("true", "-id")
    # id windows of a page each on average (ids here are dense)
    assert [r["query"].get("filter[id]") for r in reads[1:]] == ["1..1000", "1001..1200"]
    assert all("page[after]" not in r["query"] and "page[offset]" not in r["query"] for r in reads)
    async with state_store(settings) as store:
        seeded = await Mirror(store).prospect_for("p1199@acme.com")
    assert seeded is not None
    assert seeded["id"] == 1200


async def test_export_resumes_after_an_interruption(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """A file cut mid-line by a crash resumes after its last complete record: no loss, no
    duplicate; and the mirror learns every record."""
    sandbox = await make_sandbox(mint_interval_s=0)
    await _seed(await _api(sandbox), 25)
    out = tmp_path / "prospects.jsonl"
    store = MemoryStore()
    settings = _settings(sandbox, tmp_path)
    async with OutreachClient(settings.outreach, store) as client:
        await export(client, "prospects", out, page_size=10)
        whole = out.read_bytes()
        lines = whole.splitlines(keepends=True)
        out.write_bytes(b"".join(lines[:12]) + lines[12][:20])
        seen: list[tuple[int, int | None]] = []
        result = await export(
            client,
            "prospects",
            out,
            page_size=10,
            mirror=Mirror(store),
            progress=lambda done, total: seen.append((done, total)),
        )
    assert out.read_bytes() == whole
    assert (result.resumed_after, result.written, result.total) == (12, 13, 25)
    assert seen[0] == (12, 25)
    assert seen[-1] == (25, 25)
    mirrored = await Mirror(store).get("prospect", 25)
    assert mirrored is not None
    assert mirrored["source"] == "export"
    assert mirrored["attributes"]["tags"] == ["seed"]


async def test_export_handles_holes_and_crowded_windows(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """Deleted ids make some windows empty and others hold more than a page: every remaining
    record is written once, in id order."""
    sandbox = await make_sandbox(mint_interval_s=0)
    api = await _api(sandbox)
    await _seed(api, 40)
    for prospect_id in range(1, 21):
        assert (await api.call("DELETE", f"/api/v2/prospects/{prospect_id}")).status == 204
    out = tmp_path / "prospects.jsonl"
    async with OutreachClient(_settings(sandbox, tmp_path).outreach, MemoryStore()) as client:
        result = await export(client, "prospects", out, page_size=10)
    assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == list(
        range(21, 41)
    )
    assert result.written == 20
