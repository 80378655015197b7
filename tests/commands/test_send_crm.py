"""``leadgate send --source workbooks records.jsonl`` with presets/crm-sync.yaml: the real CLI
process imports CRM people and an opportunity into the sandbox and prints each record's
write-back outcome; a second run changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.plugins.sandbox import SandboxHandle

ROOT = Path(__file__).resolve().parents[2]
CRM = ROOT / "presets" / "crm-sync.yaml"
RECORDS = [
    {"type": "identify", "messageId": "p1", "userId": "P-1",
     "traits": {"email": "jane@acmecorp.io", "syncToOutreach": True, "assignedTo": "alice"}},
    {"type": "identify", "messageId": "p2", "userId": "P-2",
     "traits": {"email": "bob@acmecorp.io", "syncToOutreach": False}},
    {"type": "track", "messageId": "o1", "userId": "P-1", "event": "Opportunity Updated",
     "properties": {"opportunity": {
         "id": "OPP-1", "name": "Renewal", "closeDate": "2026-12-31", "stage": "Negotiation",
         "owner": "alice", "contacts": [{"email": "jane@acmecorp.io", "role": "Champion"}]}}},
]  # fmt: skip


async def _send(sandbox: SandboxHandle, state: Path, records: Path) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "LEADGATE_OUTREACH__BASE_URL": sandbox.url,
        "LEADGATE_OUTREACH__REFRESH_TOKEN": sandbox.config.first_refresh_token,
    }
    env.pop("LEADGATE_CONFIG", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "send", str(records), "--preset", str(CRM),
        "--state-dir", str(state), "--source", "workbooks", "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=50)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_send_imports_crm_records_and_prints_their_outcomes(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Jane becomes a prospect owned by alice, Bob is dropped, OPP-1 is created with Jane as
    Champion; each delivered record carries its outcome (source, Outreach id and URL); a second
    run reports both records unchanged."""
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(orjson.dumps(r) for r in RECORDS))
    code, out, err = await _send(sandbox, tmp_path / "state", records)
    assert code == 0, err
    reports: dict[str, dict[str, Any]] = {
        r["messageId"]: r for r in map(json.loads, out.splitlines())
    }
    assert reports["p2"]["reason"] == "condition_not_met"
    jane = reports["p1"]["writeBack"]
    assert jane["source"] == {"system": "workbooks", "type": "person", "id": "P-1"}
    assert (jane["status"], jane["action"], jane["outreach"]["type"]) == (
        "ok",
        "created",
        "prospect",
    )
    deal = reports["o1"]["writeBack"]
    assert deal["source"] == {"system": "workbooks", "type": "opportunity", "id": "OPP-1"}
    (opportunity,) = await sandbox.records("opportunities")
    assert deal["outreach"]["id"] == opportunity["id"]
    assert deal["outreach"]["url"].endswith(f"/opportunities/{opportunity['id']}/overview")
    assert opportunity["attributes"]["customId"] == "workbooks:OPP-1"
    assert len(await sandbox.records("opportunityProspectRoles")) == 1
    code, out, err = await _send(sandbox, tmp_path / "state", records)
    assert code == 0, err
    again = {r["messageId"]: r for r in map(json.loads, out.splitlines())}
    assert [again[m]["action"] for m in ("p1", "o1")] == ["unchanged", "unchanged"]
    assert all(not again[m]["requests"] for m in ("p1", "o1"))
