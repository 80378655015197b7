"""``leadgate send`` end to end: the real CLI process against the real sandbox."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.plugins.sandbox import SandboxHandle

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "fixtures" / "seed_example.jsonl"
EXPECTED = json.loads((ROOT / "tests" / "fixtures" / "seed_demo_requested.json").read_text())
PRESET = ROOT / "presets" / "outreach-lead-capture.yaml"


async def _send(sandbox: SandboxHandle, state_dir: Path, *args: str) -> tuple[int, str, str]:
    env = sandbox.client_env()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "send", str(SEED), "--preset", str(PRESET),
        "--state-dir", str(state_dir), *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _reports(out: str) -> dict[str, dict[str, Any]]:
    reports = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["messageId"]: r for r in reports}


async def test_seed_example_creates_one_linked_prospect_and_rerun_changes_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The seed's Demo Requested becomes one prospect equal to the seed payload, linked to the
    acme.com account; sending the file again makes no request and still leaves one prospect."""
    code, out, err = await _send(sandbox, tmp_path / "state", "--json")
    assert code == 0, err
    reports = _reports(out)
    demo = reports["seed-3-demo"]
    assert (demo["outcome"], demo["action"]) == ("delivered", "created")
    requests = [f"{r['method']} {r['path'].partition('?')[0]}" for r in demo["requests"]]
    assert sorted(requests) == [
        "GET /api/v2/accounts",
        "GET /api/v2/prospects",
        "POST /api/v2/accounts",
        "POST /api/v2/prospects",
    ]
    assert requests[-1] == "POST /api/v2/prospects"
    assert reports["seed-1-identify"]["outcome"] == "dropped"
    assert reports["seed-5-no-consent"]["reason"] == "no_consent"

    (prospect,) = await sandbox.prospects()
    (account,) = await sandbox.accounts()
    assert account["attributes"]["domain"] == "acme.com"
    assert prospect["id"] == demo["prospectId"]
    assert prospect["relationships"]["account"]["data"]["id"] == account["id"]
    attributes = prospect["attributes"]
    for name, value in EXPECTED["data"]["attributes"].items():
        got = sorted(attributes[name]) if name == "tags" else attributes[name]
        assert got == (sorted(value) if name == "tags" else value), name

    before = len(await sandbox.api_requests())
    code, out, err = await _send(sandbox, tmp_path / "state", "--json")
    assert code == 0, err
    again = _reports(out)["seed-3-demo"]
    assert (again["action"], again["requests"]) == ("unchanged", [])
    assert len(await sandbox.api_requests()) == before
    assert len(await sandbox.prospects()) == 1


async def test_human_output_and_dead_letter_exit_status(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Without --json each event gets a readable line; a dead-lettered lead makes exit status 1."""
    await sandbox.faults(status=422, count=1, method="POST", path_prefix="/api/v2/prospects")
    code, out, _ = await _send(sandbox, tmp_path / "state")
    assert code == 1
    assert "seed-3-demo  -> dead_lettered (vendor_validation)" in out
    assert "jane.doe@acme.com" not in out.split("seed-3-demo", 1)[1].splitlines()[0]
