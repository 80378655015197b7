"""Prospect opt-outs: emailsOptStatus is stored, and the server stamps emailsOptedAt and the
emailOptedOut boolean when it changes; an unknown status is a 422."""

from __future__ import annotations

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import authed


async def test_opting_out_stamps_the_time_and_the_boolean(sandbox: SandboxHandle) -> None:
    """PATCH emailsOptStatus opted_out → emailsOptedAt set and emailOptedOut true; the same
    status again keeps the first timestamp."""
    api = await authed(sandbox)
    created = await api.create("prospects", {"emails": ["jane@acme.com"]})
    prospect_id = created.json["data"]["id"]
    assert created.json["data"]["attributes"]["emailsOptStatus"] is None
    await sandbox.advance_clock(5)
    first = await api.patch("prospects", prospect_id, {"emailsOptStatus": "opted_out"})
    assert first.status == 200
    attributes = first.json["data"]["attributes"]
    assert attributes["emailsOptStatus"] == "opted_out"
    assert attributes["emailOptedOut"] is True
    assert attributes["emailsOptedAt"] > attributes["createdAt"]
    await sandbox.advance_clock(5)
    again = await api.patch("prospects", prospect_id, {"emailsOptStatus": "opted_out"})
    assert again.json["data"]["attributes"]["emailsOptedAt"] == attributes["emailsOptedAt"]
    (stored,) = await sandbox.prospects()
    assert stored["attributes"]["emailsOptStatus"] == "opted_out"


async def test_opted_at_is_read_only_and_status_is_checked(sandbox: SandboxHandle) -> None:
    """Writing emailsOptedAt is a 422 (read-only); emailsOptStatus "maybe" is a 422 too."""
    api = await authed(sandbox)
    created = await api.create("prospects", {"emails": ["jane@acme.com"]})
    prospect_id = created.json["data"]["id"]
    stamped = await api.patch("prospects", prospect_id, {"emailsOptedAt": "2026-01-01"})
    assert stamped.status == 422
    assert "read-only" in stamped.detail
    bad = await api.patch("prospects", prospect_id, {"emailsOptStatus": "maybe"})
    assert bad.status == 422
    assert bad.json["errors"][0]["source"]["pointer"] == "/data/attributes/emailsOptStatus"
