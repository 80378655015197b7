"""``leadgate auth login`` against the sandbox's authorize endpoint (the test plays the browser)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
from yarl import URL

from leadgate.domain.trace import ExchangeRecorder
from leadgate.outreach.client import OutreachClient
from leadgate.store.sqlite import open_store
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import SandboxHandle


async def _start_login(sandbox: SandboxHandle, state_dir: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "LEADGATE_OUTREACH__BASE_URL": sandbox.url,
        "LEADGATE_OUTREACH__CLIENT_ID": sandbox.config.client_id,
        "LEADGATE_OUTREACH__CLIENT_SECRET": sandbox.config.client_secret,
    }
    env.pop("LEADGATE_CONFIG", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadgate.cli", "auth", "login", "--port", "0", "--no-browser",
        "--state-dir", str(state_dir), "--timeout", "60",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _authorize_url(process: asyncio.subprocess.Process) -> URL:
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert line, "leadgate auth login exited before printing the URL"
        if "/oauth/authorize?" in line:
            return URL(line.strip())


async def test_login_stores_a_working_refresh_token(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Following the printed URL stores a refresh token that then works for API calls."""
    process = await _start_login(sandbox, tmp_path / "state")
    url = await _authorize_url(process)
    assert url.query["scope"].split(" ") == list(make_settings(sandbox.url).scopes)
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url, allow_redirects=False) as response:
            assert response.status == 302
            callback = URL(response.headers["Location"])
        assert callback.host == "127.0.0.1"
        assert callback.query["state"] == url.query["state"]
        async with browser.get(callback) as response:
            assert response.status == 200
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()

    store = await open_store(tmp_path / "state")
    try:
        tokens = await store.load_tokens()
        assert tokens is not None
        assert tokens.refresh_token
        settings = make_settings(sandbox.url, refresh_token=None)
        async with OutreachClient(settings, store) as client:
            listed = await client.request("GET", "/api/v2/prospects", ExchangeRecorder())
        assert listed.status == 200
    finally:
        await store.close()


async def test_wrong_state_is_refused(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A redirect with a forged state stores nothing and exits non-zero."""
    process = await _start_login(sandbox, tmp_path / "state")
    url = await _authorize_url(process)
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url, allow_redirects=False) as response:
            callback = URL(response.headers["Location"])
        forged = callback.update_query(state="forged")
        async with browser.get(forged) as response:
            assert response.status == 400
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "wrong state" in err.decode()
    store = await open_store(tmp_path / "state")
    try:
        assert await store.load_tokens() is None
    finally:
        await store.close()
