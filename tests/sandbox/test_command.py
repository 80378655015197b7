"""``leadgate sandbox``: flags become the sandbox configuration, and the command serves a working
sandbox and prints its URL and dev credentials."""

from __future__ import annotations

import argparse
import asyncio
import re

import aiohttp
import pytest

from leadgate.commands import sandbox as command


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="leadgate")
    command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sandbox", *argv])


def test_flags_map_to_the_config() -> None:
    """Every documented flag lands in SandboxConfig; defaults are Outreach's documented limits."""
    defaults = command.config_from(_parse())
    assert (defaults.port, defaults.rate_limit, defaults.window_s) == (8300, 10_000, 3600.0)
    assert (defaults.token_ttl_s, defaults.mint_interval_s, defaults.lenient) == (7200, 60, False)
    argv = "--port 0 --host 0.0.0.0 --rate-limit 5 --window 2 --lenient --latency-ms 20"
    argv += (
        " --token-ttl 30 --mint-interval 0 --excluded-domain a.example --excluded-domain b.example"
    )
    config = command.config_from(_parse(*argv.split()))
    assert (config.port, config.host, config.rate_limit, config.window_s) == (0, "0.0.0.0", 5, 2)
    assert (config.lenient, config.latency_ms, config.token_ttl_s) == (True, 20, 30)
    assert config.mint_interval_s == 0
    assert config.excluded_domains == ("a.example", "b.example")


def test_nonsense_budget_is_refused() -> None:
    """A zero rate limit is refused with a message instead of a sandbox that answers only 429."""
    with pytest.raises(SystemExit, match="rate-limit"):
        command.config_from(_parse("--rate-limit", "0"))


async def test_serve_prints_url_and_credentials_and_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The running command prints a URL that serves OAuth, and the env lines for leadgate."""
    stop = asyncio.Event()
    task = asyncio.create_task(command.serve(command.config_from(_parse("--port", "0")), stop))
    try:
        url = None
        for _ in range(200):
            match = re.search(r"listening on (http://\S+)", capsys.readouterr().out)
            if match:
                url = match.group(1)
                break
            await asyncio.sleep(0.02)
        assert url is not None
        form = {
            "grant_type": "refresh_token",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "refresh_token": "sandbox-refresh-token",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/oauth/token", data=form) as response,
        ):
            assert response.status == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_banner_names_the_settings_leadgate_reads() -> None:
    """The banner tells a user exactly which environment variables point leadgate at it."""
    text = command.banner("http://127.0.0.1:8300", command.config_from(_parse()))
    assert "LEADGATE_OUTREACH__BASE_URL=http://127.0.0.1:8300" in text
    assert "LEADGATE_OUTREACH__REFRESH_TOKEN=sandbox-refresh-token" in text
    assert "LEADGATE_OUTREACH__CLIENT_ID=sandbox-client" in text
