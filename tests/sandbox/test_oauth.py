"""OAuth against the sandbox: the refresh flow, rotation, invalid_grant, the mint throttle, the
authorization-code flow and scope enforcement, all over real HTTP."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, token_request


async def test_refresh_grant_returns_a_two_hour_bearer_token(sandbox: SandboxHandle) -> None:
    """The dev refresh token mints a Bearer token living 7200 s with the default scopes."""
    status, body, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert body["refresh_token"] != "sandbox-refresh-token"
    assert {"prospects.all", "accounts.all"} <= set(body["scope"].split())
    reply = await Api(sandbox, body["access_token"]).get("/api/v2/prospects")
    assert reply.status == 200


async def test_json_token_request_works_like_a_form(make_sandbox: MakeSandbox) -> None:
    """A JSON-encoded token request is accepted, as Outreach accepts it."""
    sandbox = await make_sandbox()
    status, body, _ = await token_request(
        sandbox, as_json=True, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    assert status == 200
    assert body["access_token"]


async def test_refresh_rotates_and_revokes_the_old_token(make_sandbox: MakeSandbox) -> None:
    """Each refresh returns a new refresh token; the used one then fails with invalid_grant."""
    sandbox = await make_sandbox(mint_interval_s=0)
    _, first, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    status, again, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    assert status == 400
    assert again["error"] == "invalid_grant"
    status, second, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200
    assert second["refresh_token"] not in (first["refresh_token"], "sandbox-refresh-token")


async def test_unknown_refresh_token_is_invalid_grant(sandbox: SandboxHandle) -> None:
    """A refresh token the server never issued gets 400 invalid_grant."""
    status, body, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="never-issued"
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_wrong_client_secret_is_invalid_client(sandbox: SandboxHandle) -> None:
    """Wrong client credentials get 401 invalid_client and do not consume the refresh token."""
    status, body, _ = await token_request(
        sandbox,
        grant_type="refresh_token",
        refresh_token="sandbox-refresh-token",
        client_secret="wrong",
    )
    assert (status, body["error"]) == (401, "invalid_client")
    status, _, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    assert status == 200


async def test_second_mint_within_the_interval_is_throttled(sandbox: SandboxHandle) -> None:
    """A second mint within 60 s gets 429 with Retry-After, and its refresh token stays usable."""
    _, first, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    status, body, headers = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert (status, body["error"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 60
    await sandbox.faults(expire_tokens=True)  # as if two hours had passed
    status, _, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200


async def test_mint_throttle_interval_is_configurable(make_sandbox: MakeSandbox) -> None:
    """With a 0.3 s mint interval a refresh succeeds once the interval has passed."""
    sandbox = await make_sandbox(mint_interval_s=0.3)
    _, first, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token="sandbox-refresh-token"
    )
    status, _, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 429
    await asyncio.sleep(0.35)
    status, _, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200


async def test_access_token_expires_after_its_ttl(make_sandbox: MakeSandbox) -> None:
    """An access token stops working once token_ttl_s has passed: plain 401."""
    sandbox = await make_sandbox(token_ttl_s=0.3)
    api = Api(sandbox, await sandbox.access_token())
    assert (await api.get("/api/v2/prospects")).status == 200
    await asyncio.sleep(0.35)
    reply = await api.get("/api/v2/prospects")
    assert (reply.status, reply.text) == (401, "Invalid access token")


async def test_expire_tokens_fault_invalidates_every_token(sandbox: SandboxHandle) -> None:
    """The expire_tokens fault makes the current access token answer 401 at once."""
    api = Api(sandbox, await sandbox.access_token())
    await sandbox.faults(expire_tokens=True)
    assert (await api.get("/api/v2/prospects")).status == 401


async def test_authorization_code_flow(sandbox: SandboxHandle) -> None:
    """authorize redirects with code and state; the code buys tokens once, then invalid_grant."""
    redirect = "http://127.0.0.1:9/callback"
    params = {
        "client_id": "sandbox-client",
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "prospects.read accounts.all",
        "state": "xyz",
    }
    async with sandbox.session.get(
        f"{sandbox.url}/oauth/authorize", params=params, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(redirect)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    status, body, _ = await token_request(
        sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect
    )
    assert status == 200
    assert body["scope"] == "prospects.read accounts.all"
    await sandbox.faults(expire_tokens=True)
    status, body, _ = await token_request(
        sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_missing_scope_is_403(sandbox: SandboxHandle) -> None:
    """A token without prospects.write may read prospects but gets 403 on a create."""
    refresh = await sandbox.issue_refresh_token("prospects.read")
    _, body, _ = await token_request(sandbox, grant_type="refresh_token", refresh_token=refresh)
    api = Api(sandbox, body["access_token"])
    assert (await api.get("/api/v2/prospects")).status == 200
    reply = await api.create("prospects", {"emails": ["a@example.com"]})
    assert reply.status == 403
    assert reply.error_id == "unauthorizedOauthScope"
    assert "prospects.write" in reply.detail
    assert (await api.get("/api/v2/accounts")).status == 403


async def test_token_requests_are_logged_without_the_secret(sandbox: SandboxHandle) -> None:
    """Token requests appear in the request log with the client secret masked."""
    await sandbox.access_token()
    (entry,) = await sandbox.requests()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/oauth/token", 200)
    assert entry["body"]["client_secret"] == "***"
    assert entry["body"]["grant_type"] == "refresh_token"


async def test_refresh_may_narrow_but_never_widen_scopes(make_sandbox: MakeSandbox) -> None:
    """A refresh with scope= narrows the new token's scopes; asking for more is invalid_scope."""
    sandbox = await make_sandbox(mint_interval_s=0)
    wider = await sandbox.issue_refresh_token("prospects.read", "prospects.write")
    status, body, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=wider, scope="prospects.all"
    )
    assert (status, body["error"]) == (400, "invalid_scope")
    status, body, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=wider, scope="prospects.read"
    )
    assert (status, body["scope"]) == (200, "prospects.read")
    api = Api(sandbox, body["access_token"])
    assert (await api.create("prospects", {"emails": ["a@acme.com"]})).status == 403
    _, rotated, _ = await token_request(
        sandbox, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert rotated["scope"] == "prospects.read"
