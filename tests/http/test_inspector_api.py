"""The inspector's HTTP API over real HTTP on loopback (docs/architecture.md, docs/reliability.md
D1-D3)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, CookieJar, web
from pydantic import SecretStr

from leadgate.domain.profile import Profile
from leadgate.errors import ConfigError
from leadgate.http.inspector import setup_inspector
from leadgate.settings import Settings
from leadgate.store.memory import MemoryStore
from leadgate.store.presets import PresetsHolder
from tests.plugins.events import LEAD_CAPTURE
from tests.plugins.inspector import (
    INSPECTOR_TOKEN,
    MakeInspector,
    delivery_trace,
    dropped_trace,
    inspector_settings,
    processor_trace,
)

WRITE_KEY = "wk-public-browser-key"


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    collector = {"write_keys": [{"key": SecretStr(WRITE_KEY)}]}
    return inspector_settings(tmp_path, collector=collector, **overrides)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-value"},
        {"Authorization": f"Bearer {WRITE_KEY}"},
        {"Authorization": f"Basic {WRITE_KEY}"},
    ],
)
async def test_api_answers_401_without_the_inspector_token(
    make_inspector: MakeInspector, tmp_path: Path, headers: dict[str, str]
) -> None:
    """No token, a wrong token or the collector's write key: 401, as JSON with a strict CSP."""
    inspector = await make_inspector(_settings(tmp_path))
    for path in ("/inspector/api/events", "/inspector/api/events/x", "/inspector/api/stream"):
        async with inspector.client.get(inspector.url + path, headers=headers) as response:
            assert response.status == 401
            assert response.content_type == "application/json"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_inspector_token_equal_to_a_write_key_is_refused(tmp_path: Path) -> None:
    """Configuring the public write key as the inspector token fails before serving."""
    settings = _settings(tmp_path, inspector={"token": SecretStr(WRITE_KEY)})
    with pytest.raises(ConfigError, match="differ from every write key"):
        setup_inspector(web.Application(), settings)


async def test_login_form_sets_a_cookie_that_opens_the_api(make_inspector: MakeInspector) -> None:
    """The page's login form sets an HttpOnly cookie (not the token itself) that the API takes."""
    inspector = await make_inspector()
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:  # an IP host
        url = inspector.url + "/inspector/login"
        async with browser.post(url, data={"token": "nope"}, allow_redirects=False) as bad:
            assert bad.status == 303
            assert "login=failed" in bad.headers["Location"]
        async with browser.post(url, data={"token": INSPECTOR_TOKEN}, allow_redirects=False) as ok:
            assert ok.status == 303
            cookie = ok.headers["Set-Cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
            assert INSPECTOR_TOKEN not in cookie
        async with browser.get(inspector.url + "/inspector/api/events") as response:
            assert response.status == 200


async def test_list_filters_and_detail(make_inspector: MakeInspector) -> None:
    """The list filters by email, outcome and reason; the detail shows stages and exchanges."""
    inspector = await make_inspector()
    lead = processor_trace()
    inspector.store.add_trace(lead)
    inspector.store.add_trace(delivery_trace(lead["messageId"]))
    inspector.store.add_trace(dropped_trace("no_consent", normalized={"email": "sam@x.org"}))

    by_outcome = await inspector.get_json("/inspector/api/events?outcome=delivered")
    assert [e["messageId"] for e in by_outcome["events"]] == [lead["messageId"]]
    by_email = await inspector.get_json("/inspector/api/events?email=JANE.DOE@acme.com")
    assert [e["email"] for e in by_email["events"]] == ["j***@a***.com"]
    by_reason = await inspector.get_json("/inspector/api/events?reason=no_consent")
    assert [e["outcome"] for e in by_reason["events"]] == ["dropped"]

    detail = await inspector.get_json(f"/inspector/api/events/{lead['messageId']}")
    assert detail["outcome"] == "delivered"
    exchange = detail["exchanges"][0]
    assert (exchange["method"], exchange["path"], exchange["status"]) == (
        "POST",
        "/api/v2/prospects",
        201,
    )
    assert exchange["document"]["data"]["attributes"]["emails"] == ["j***@a***.com"]
    assert exchange["rate_limit"]["X-RateLimit-Remaining"] == "9999"
    assert "jane.doe@acme.com" not in orjson.dumps(detail).decode()

    async with inspector.client.get(
        inspector.url + "/inspector/api/events/unknown", headers=inspector.auth
    ) as missing:
        assert missing.status == 404
    async with inspector.client.get(
        inspector.url + "/inspector/api/events?since=yesterday", headers=inspector.auth
    ) as bad:
        assert bad.status == 400


async def test_reveal_pii_shows_emails_but_never_secrets(
    make_inspector: MakeInspector, tmp_path: Path
) -> None:
    """With revealing configured the email is readable; a token in a response stays hidden."""
    settings = inspector_settings(tmp_path, inspector={"reveal_pii": True})
    inspector = await make_inspector(settings)
    lead = processor_trace(detail=f"echo Bearer {INSPECTOR_TOKEN}")
    inspector.store.add_trace(lead)
    body = await inspector.get_json(f"/inspector/api/events/{lead['messageId']}")
    assert body["email"] == "jane.doe@acme.com"
    assert INSPECTOR_TOKEN not in orjson.dumps(body).decode()


async def test_stream_sends_each_change(make_inspector: MakeInspector) -> None:
    """A client on the SSE stream sees a trace appear and then turn delivered."""
    inspector = await make_inspector()
    url = inspector.url + "/inspector/api/stream"
    async with inspector.client.get(url, headers=inspector.auth) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lead = processor_trace()
        inspector.store.add_trace(lead)
        inspector.store.add_trace(delivery_trace(lead["messageId"]))
        seen: list[dict[str, Any]] = []
        while len(seen) < 2:
            line = await asyncio.wait_for(response.content.readline(), 10)
            if line.startswith(b"data: "):
                seen.append(orjson.loads(line[6:]))
    assert [s["outcome"] for s in seen] == ["pending", "delivered"]
    assert seen[0]["email"] == "j***@a***.com"


async def test_try_an_unmapped_event_answers_unmapped_event(
    make_inspector: MakeInspector, make_track: Any
) -> None:
    """A dry run of an event the preset does not map says unmapped_event and sends nothing."""
    inspector = await make_inspector()
    event = make_track(event="Video Played")
    async with inspector.client.post(
        inspector.url + "/inspector/api/try", json=event, headers=inspector.auth
    ) as response:
        assert response.status == 200
        trace = await response.json()
    assert (trace["outcome"], trace["reason"], trace["wouldSend"]) == (
        "dropped",
        "unmapped_event",
        False,
    )
    assert trace["dryRun"] is True
    assert len(inspector.store) == 0


async def test_try_uses_the_current_profile(make_inspector: MakeInspector, make_track: Any) -> None:
    """A track without email is a lead when the visitor's stored profile knows email and consent;
    the dry run returns the exact document, masked."""
    profiles = MemoryStore()
    await profiles.put_profile(
        ["user:u-1"],
        Profile(traits={"email": "Jane.Doe@acme.com"}, consent={"marketing": True}),
    )
    inspector = await make_inspector(profile_store=profiles)
    event = make_track(event="Demo Requested", userId="u-1", anonymousId=None)
    async with inspector.client.post(
        inspector.url + "/inspector/api/try", json=event, headers=inspector.auth
    ) as response:
        trace = await response.json()
    assert trace["wouldSend"] is True, trace
    assert trace["document"]["data"]["attributes"]["emails"] == ["j***@a***.com"]
    assert "demo-request" in trace["document"]["data"]["attributes"]["tags"]


async def test_try_rejects_non_json(make_inspector: MakeInspector) -> None:
    """The try endpoint takes JSON only (a cross-site form cannot post to it)."""
    inspector = await make_inspector()
    async with inspector.client.post(
        inspector.url + "/inspector/api/try", data="type=track", headers=inspector.auth
    ) as response:
        assert response.status == 415


async def test_script_and_pii_in_free_text_come_back_inert_and_masked(
    make_inspector: MakeInspector,
) -> None:
    """An event carrying <script>, an email and a phone in free text is served as masked JSON
    under a CSP (docs/reliability.md D3)."""
    inspector = await make_inspector()
    lead = dropped_trace(
        event="<script>alert(1)</script> ping bob@evil.example +1 415 555 0100",
        detail="contact carol@corp.example or +44 20 7946 0123",
    )
    inspector.store.add_trace(lead)
    async with inspector.client.get(
        inspector.url + f"/inspector/api/events/{lead['messageId']}", headers=inspector.auth
    ) as response:
        text = await response.text()
        assert response.content_type == "application/json"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for leak in ("bob@evil.example", "carol@corp.example", "555 0100", "7946 0123"):
        assert leak not in text


async def test_presets_endpoint_reports_a_bad_edit(
    make_inspector: MakeInspector, tmp_path: Path
) -> None:
    """After a bad edit the presets endpoint names the error and the last good preset stays."""
    path = tmp_path / "preset.yaml"
    shutil.copy(LEAD_CAPTURE, path)
    holder = PresetsHolder([path])
    inspector = await make_inspector(presets_holder=holder)
    path.write_text(path.read_text().replace("action: drop", "action: explode"))
    holder.reload_if_changed()
    body = await inspector.get_json("/inspector/api/presets")
    status = body["presets"][0]
    assert status["name"] == "Lead Capture"
    assert "action" in status["lastError"]
    assert "preset.yaml" in status["lastError"]
