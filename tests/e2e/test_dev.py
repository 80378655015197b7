"""``leadgate dev``: one command brings the pipeline up, prints what a user needs, and Ctrl-C
leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import psutil

from leadgate.commands.dev import uses_real_outreach
from leadgate.kafka.broker import free_port
from tests.plugins.streams import REPO, wait_for


def test_sandbox_runs_unless_a_real_outreach_is_configured() -> None:
    """Only a non-loopback Outreach URL counts as real credentials (then no sandbox starts)."""
    assert not uses_real_outreach("http://127.0.0.1:8300")
    assert not uses_real_outreach("http://localhost:8300")
    assert not uses_real_outreach("http://[::1]:8300")
    assert uses_real_outreach("https://api.outreach.io")
    assert uses_real_outreach("https://10.0.0.5")


async def _read_banner(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert line, "leadgate dev exited before it was ready"
        lines.append(line)
        if line.strip().startswith("state dir"):
            return "".join(lines)


async def test_dev_runs_the_pipeline_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """The banner names the collector, write key, inspector token, sandbox and broker; an
    identify + track posted to the collector becomes a sandbox prospect; the demo page (with
    the dev write key) and the SDK are served; SIGINT exits 0 and the broker is gone."""
    http, broker, sandbox = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "dev",
        "--http-port", str(http), "--broker-port", str(broker), "--sandbox-port", str(sandbox),
        "--state-dir", str(tmp_path / "state"), "--partitions", "2",
        "--write-key", "wk_dev_test_key", "--inspector-token", "dev-inspector-token-123",
        cwd=str(REPO), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        start_up = await _read_banner(process)
        # Ready before it says so: both groups joined before the banner, and nothing that
        # looks like an error (such as a refused connection to the broker starting up).
        banner = start_up[start_up.index("leadgate dev is running") :]
        before = start_up[: start_up.index("leadgate dev is running")]
        for group in ("leadgate-processor", "leadgate-delivery-outreach"):
            assert re.search(rf"consumer\.assigned .*group={group}", before), before
        assert not re.search(r"(?i)error|unable|traceback|refused", before), before
        assert process.stdout is not None
        rest = asyncio.create_task(process.stdout.read())  # keep the pipe from filling up
        for needle in (
            f"http://127.0.0.1:{http}/v1/track",
            "wk_dev_test_key",
            "dev-inspector-token-123",
            f"http://127.0.0.1:{sandbox}/__sandbox/prospects",
            f"127.0.0.1:{broker}",
        ):
            assert needle in banner
        children = psutil.Process(process.pid).children(recursive=True)
        assert any(re.search(str(broker), " ".join(c.cmdline())) for c in children)
        consent = {"consent": {"categoryPreferences": {"marketing": True}}}
        auth = {"Authorization": aiohttp.encode_basic_auth("wk_dev_test_key", "")}
        async with aiohttp.ClientSession(headers=auth) as session:
            async with session.get(f"http://127.0.0.1:{http}/readyz") as response:
                assert response.status == 200, await response.text()
            identify = {"userId": "dev-1", "traits": {"email": "dev@gmail.com"}, "context": consent}
            demo = {"userId": "dev-1", "event": "Demo Requested", "context": consent}
            for path, body in (("identify", identify), ("track", demo)):
                async with session.post(f"http://127.0.0.1:{http}/v1/{path}", json=body) as r:
                    assert r.status == 200, await r.text()

            async def prospect() -> bool:
                url = f"http://127.0.0.1:{sandbox}/__sandbox/prospects"
                async with session.get(url) as response:
                    return len((await response.json())["data"]) == 1

            await wait_for(prospect, timeout_s=30)
            for page in ("/demo", "/sdk/leadgate.js"):
                async with session.get(f"http://127.0.0.1:{http}{page}") as response:
                    assert response.status == 200, page
            async with session.get(f"http://127.0.0.1:{http}/demo") as response:
                assert "wk_dev_test_key" in await response.text()
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=45) == 0
        assert "Traceback" not in (await rest).decode()
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
