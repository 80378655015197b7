"""The sandbox's default org (users, mailboxes, sequences, stages) and enrolment with
Outreach's 422s."""

from __future__ import annotations

from typing import Any

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import Api, authed


def rel(kind: str, id_: int) -> dict[str, Any]:
    """A to-one relationship value."""
    return {"data": {"type": kind, "id": id_}}


def enrolment(prospect: int | None, sequence: int | None, mailbox: int | None) -> dict[str, Any]:
    """A sequenceState create document (None leaves a relationship out)."""
    links = {
        name: rel(kind, id_)
        for name, kind, id_ in (
            ("prospect", "prospect", prospect),
            ("sequence", "sequence", sequence),
            ("mailbox", "mailbox", mailbox),
        )
        if id_ is not None
    }
    return {"data": {"type": "sequenceState", "relationships": links}}


async def prospect(api: Api, email: str = "jane@acme.com") -> int:
    """Create a prospect; its id."""
    reply = await api.create("prospects", {"emails": [email]})
    assert reply.status == 201, reply.text
    return int(reply.json["data"]["id"])


async def test_default_org_is_there_on_start_and_after_reset(sandbox: SandboxHandle) -> None:
    """alice and bob (with mailboxes), three sequences, three stages; reset brings them back."""
    api = await authed(sandbox)
    for _ in range(2):
        users = {u["attributes"]["username"]: u for u in await sandbox.users()}
        assert set(users) == {"owner", "alice", "bob"}
        assert users["alice"]["attributes"]["email"] == "alice@sandbox.invalid"
        assert users["bob"]["attributes"]["email"] == "bob@sandbox.invalid"
        mailboxes = await sandbox.listing("mailboxes")
        assert {m["attributes"]["userId"]: m["attributes"]["email"] for m in mailboxes} == {
            u["id"]: u["attributes"]["email"] for u in users.values()
        }
        sequences = await sandbox.listing("sequences")
        assert {s["attributes"]["name"]: s["attributes"]["enabled"] for s in sequences} == {
            "Inbound Demo Request": True,
            "Newsletter Nurture": True,
            "Old Campaign": False,
        }
        stages = await sandbox.listing("stages")
        assert [s["attributes"]["name"] for s in stages] == ["Cold Lead", "Inbound", "Qualified"]
        assert await sandbox.listing("sequenceStates") == []
        await api.create("users", {"email": "extra@sandbox.invalid", "username": "extra"})
        await sandbox.reset()


async def test_lookups_by_email_username_name_and_user(sandbox: SandboxHandle) -> None:
    """The filters routing uses answer exactly the one record asked for."""
    api = await authed(sandbox)
    by_email = await api.get("/api/v2/users", **{"filter[email]": "BOB@sandbox.invalid"})
    assert [u["attributes"]["username"] for u in by_email.json["data"]] == ["bob"]
    by_name = await api.get("/api/v2/users", **{"filter[username]": "alice"})
    assert [u["id"] for u in by_name.json["data"]] == [2]
    assert (await api.get("/api/v2/users", **{"filter[username]": "carol"})).json["data"] == []
    mailbox = await api.get("/api/v2/mailboxes", **{"filter[userId]": "2"})
    assert [m["attributes"]["email"] for m in mailbox.json["data"]] == ["alice@sandbox.invalid"]
    sequence = await api.get("/api/v2/sequences", **{"filter[name]": "Old Campaign"})
    assert sequence.json["data"][0]["attributes"]["enabled"] is False
    stage = await api.get("/api/v2/stages", **{"filter[name]": "Inbound"})
    assert [s["id"] for s in stage.json["data"]] == [2]


async def test_enrol_then_already_in_this_sequence(sandbox: SandboxHandle) -> None:
    """The first POST creates an active state; the second is a 422 with the known code."""
    api = await authed(sandbox)
    pid = await prospect(api)
    first = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 1, 2))
    assert first.status == 201, first.text
    data = first.json["data"]
    assert data["type"] == "sequenceState"
    assert data["attributes"]["state"] == "active"
    assert data["relationships"]["mailbox"] == rel("mailbox", 2)
    second = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 1, 3))
    assert second.status == 422
    assert second.json["errors"][0]["code"] == "has already been in this sequence"
    found = await api.get(
        "/api/v2/sequenceStates", **{"filter[prospect][id]": str(pid), "filter[sequence][id]": "1"}
    )
    assert [s["id"] for s in found.json["data"]] == [data["id"]]
    other = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 2, 2))
    assert other.status == 201  # another sequence is fine
    assert len(await sandbox.listing("sequenceStates")) == 2


async def test_enrolment_refusals(sandbox: SandboxHandle) -> None:
    """Missing mailbox, disabled sequence and unknown ids are 422s that name the relationship."""
    api = await authed(sandbox)
    pid = await prospect(api)
    no_mailbox = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 1, None))
    assert (no_mailbox.status, no_mailbox.detail) == (422, "Mailbox can't be blank.")
    assert no_mailbox.json["errors"][0]["source"]["pointer"] == "/data/relationships/mailbox"
    disabled = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 3, 2))
    assert disabled.status == 422
    assert "disabled" in disabled.detail
    unknown = await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 1, 99))
    assert (unknown.status, unknown.detail) == (422, "Could not find 'mailbox' with ID '99'.")
    attrs = {"data": {"type": "sequenceState", "attributes": {"state": "active"}}}
    assert (await api.call("POST", "/api/v2/sequenceStates", attrs)).status == 422
    assert await sandbox.listing("sequenceStates") == []


async def test_finish_action(sandbox: SandboxHandle) -> None:
    """finish moves a state to finished; an unknown state is a 404."""
    api = await authed(sandbox)
    pid = await prospect(api)
    state = (await api.call("POST", "/api/v2/sequenceStates", enrolment(pid, 1, 2))).json["data"]
    done = await api.call("POST", f"/api/v2/sequenceStates/{state['id']}/actions/finish", {})
    assert done.status == 200
    assert done.json["data"]["attributes"]["state"] == "finished"
    assert (await api.call("POST", "/api/v2/sequenceStates/99/actions/finish", {})).status == 404


async def test_prospect_owner_and_stage_links_are_checked(sandbox: SandboxHandle) -> None:
    """A prospect may be created with owner and stage; unknown ids are 422s."""
    api = await authed(sandbox)
    body: dict[str, Any] = {
        "data": {
            "type": "prospect",
            "attributes": {"emails": ["x@acme.com"]},
            "relationships": {"owner": rel("user", 3), "stage": rel("stage", 2)},
        }
    }
    reply = await api.call("POST", "/api/v2/prospects", body)
    assert reply.status == 201, reply.text
    assert reply.json["data"]["relationships"]["stage"] == rel("stage", 2)
    body["data"]["attributes"] = {"emails": ["y@acme.com"]}
    body["data"]["relationships"]["stage"] = rel("stage", 9)
    assert (await api.call("POST", "/api/v2/prospects", body)).status == 422
