"""Issue 12's "done when": ``leadgate send --preset presets/outreach-demo-routing.yaml`` (the real
CLI process) against the sandbox's default org."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.plugins.sandbox import SandboxHandle

ROOT = Path(__file__).resolve().parents[3]
PRESET = ROOT / "presets" / "outreach-demo-routing.yaml"
SEED = ROOT / "tests" / "fixtures" / "seed_example.jsonl"


def demo(message_id: str, plan: str, user: str = "user-123", **extra: Any) -> str:
    """A Demo Requested line for the events file."""
    event = {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": "Demo Requested",
        "properties": {"plan": plan},
        **extra,
    }
    return json.dumps(event)


async def send(sandbox: SandboxHandle, state: Path, lines: list[str], name: str) -> dict[str, Any]:
    """Run ``leadgate send --json`` on ``lines``; the reports by messageId."""
    events = state.parent / f"{name}.jsonl"
    events.write_text("\n".join(lines) + "\n")
    env = sandbox.client_env()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "send", str(events), "--preset", str(PRESET),
        "--state-dir", str(state), "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    reports = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return {r["messageId"]: r for r in reports}


def rel(resource: dict[str, Any], name: str) -> int | None:
    """A related id of a rendered resource."""
    data = resource["relationships"][name]["data"]
    return None if data is None else int(data["id"])


async def test_demo_routing_preset_done_when(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """The seed visitor's enterprise demo request makes one prospect owned by alice or bob with
    one state in "Inbound Demo Request" from the owner's mailbox; a second request leaves one
    state; a free-plan visitor gets a prospect with an owner and no state."""
    state = tmp_path / "state"
    seed = SEED.read_text().splitlines()[:2]  # the seed's identify and page view
    first = await send(sandbox, state, [*seed, demo("d-1", "enterprise")], "first")
    report = first["d-1"]
    assert (report["outcome"], report["action"]) == ("delivered", "created")
    lines = {stage["stage"]: stage for stage in report["routing"]}
    assert lines["sequence"]["reason"] == "enrolled"
    (prospect,) = await sandbox.prospects()
    owner = rel(prospect, "owner")
    assert owner in (2, 3)
    assert rel(prospect, "stage") == 2
    (enrolment,) = await sandbox.listing("sequenceStates")
    assert rel(enrolment, "sequence") == 1  # Inbound Demo Request
    mailbox = next(
        m for m in await sandbox.listing("mailboxes") if m["id"] == rel(enrolment, "mailbox")
    )
    assert mailbox["attributes"]["userId"] == owner

    again = await send(sandbox, state, [demo("d-2", "enterprise")], "again")
    assert again["d-2"]["outcome"] == "delivered"
    assert again["d-2"]["requests"] == []  # remembered: nothing to ask Outreach
    assert len(await sandbox.listing("sequenceStates")) == 1

    consent = {
        "consent": {"categories": {"marketing": True}},
        "traits": {"email": "sam@globex.com"},
    }
    free = await send(sandbox, state, [demo("d-3", "free", "user-456", context=consent)], "free")
    assert (free["d-3"]["outcome"], free["d-3"]["action"]) == ("delivered", "created")
    prospects = {p["attributes"]["emails"][0]: p for p in await sandbox.prospects()}
    sam = prospects["sam@globex.com"]
    assert rel(sam, "owner") in (2, 3)
    assert rel(sam, "owner") != owner
    assert len(await sandbox.listing("sequenceStates")) == 1
