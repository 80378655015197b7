"""Prospects and accounts as JSON:API resources: create, fetch, update, relationships, email
uniqueness (strict and lenient) and excluded addresses."""

from __future__ import annotations

import asyncio
import re

from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, authed

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_create_returns_201_with_a_full_document(sandbox: SandboxHandle) -> None:
    """POST answers 201 with an integer id, links.self, server timestamps and externalSource."""
    api = await authed(sandbox)
    reply = await api.create(
        "prospects", {"firstName": "Ada", "lastName": "Lovelace", "emails": ["ada@acme.com"]}
    )
    assert reply.status == 201
    assert reply.headers["Content-Type"].startswith("application/vnd.api+json")
    data = reply.json["data"]
    assert data["type"] == "prospect"
    assert data["id"] == 1
    assert data["links"]["self"] == f"{sandbox.url}/api/v2/prospects/1"
    attributes = data["attributes"]
    assert attributes["emails"] == ["ada@acme.com"]
    assert attributes["name"] == "Ada Lovelace"
    assert attributes["externalSource"] == "outreach-api"
    assert TIMESTAMP.match(attributes["createdAt"])
    assert attributes["updatedAt"] == attributes["createdAt"]
    assert attributes["title"] is None
    assert data["relationships"]["account"] == {"data": None}
    fetched = await api.get("/api/v2/prospects/1")
    assert fetched.json["data"] == data


async def test_account_relationship_is_stored_and_returned(sandbox: SandboxHandle) -> None:
    """A prospect linked to an account returns {"data": {"type": "account", "id": N}}."""
    api = await authed(sandbox)
    account = await api.create("accounts", {"name": "Acme", "domain": "acme.com"})
    assert account.status == 201
    account_id = account.json["data"]["id"]
    reply = await api.create("prospects", {"emails": ["ada@acme.com"]}, account=account_id)
    assert reply.status == 201
    expected = {"data": {"type": "account", "id": account_id}}
    assert reply.json["data"]["relationships"]["account"] == expected
    (stored,) = await sandbox.prospects()
    assert stored["relationships"]["account"] == expected


async def test_link_to_a_missing_account_is_rejected(sandbox: SandboxHandle) -> None:
    """Linking a prospect to an account id that does not exist is a 422 on the relationship."""
    api = await authed(sandbox)
    reply = await api.create("prospects", {"emails": ["ada@acme.com"]}, account=99)
    assert reply.status == 422
    assert reply.json["errors"][0]["source"]["pointer"] == "/data/relationships/account"


async def test_patch_changes_only_given_attributes_and_replaces_arrays(
    sandbox: SandboxHandle,
) -> None:
    """PATCH keeps unsent attributes, replaces tags wholesale and moves updatedAt forward."""
    api = await authed(sandbox)
    created = await api.create(
        "prospects", {"firstName": "Ada", "emails": ["ada@acme.com"], "tags": ["a", "b"]}
    )
    await asyncio.sleep(0.002)
    reply = await api.patch("prospects", 1, {"tags": ["c"], "title": "CTO"})
    assert reply.status == 200
    attributes = reply.json["data"]["attributes"]
    assert attributes["tags"] == ["c"]
    assert attributes["title"] == "CTO"
    assert attributes["firstName"] == "Ada"
    assert attributes["emails"] == ["ada@acme.com"]
    assert attributes["updatedAt"] > created.json["data"]["attributes"]["updatedAt"]
    assert attributes["createdAt"] == created.json["data"]["attributes"]["createdAt"]


async def test_patch_without_the_id_in_the_body_is_422(sandbox: SandboxHandle) -> None:
    """A PATCH body must carry the resource's integer id (OAS marks it required)."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["ada@acme.com"]})
    body = {"data": {"type": "prospect", "attributes": {"title": "CTO"}}}
    reply = await api.call("PATCH", "/api/v2/prospects/1", body)
    assert (reply.status, reply.error_id) == (422, "validationError")
    body["data"]["id"] = "1"  # a string id is not the integer id
    assert (await api.call("PATCH", "/api/v2/prospects/1", body)).status == 422


async def test_duplicate_email_is_422_in_strict_mode(sandbox: SandboxHandle) -> None:
    """A second prospect with the same address (any case) gets the email-hash 422."""
    api = await authed(sandbox)
    assert (await api.create("prospects", {"emails": ["ada@acme.com"]})).status == 201
    reply = await api.create("prospects", {"emails": ["other@x.io", "ADA@Acme.com "]})
    assert reply.status == 422
    assert reply.json == {
        "errors": [
            {
                "id": "validationError",
                "title": "Validation Error",
                "detail": "Contacts email hash has already been taken.",
                "source": {"pointer": "/data"},
            }
        ]
    }
    assert len(await sandbox.prospects()) == 1


async def test_patch_taking_another_prospects_email_is_422(sandbox: SandboxHandle) -> None:
    """PATCHing an address that belongs to another prospect onto a prospect is rejected."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["ada@acme.com"]})
    await api.create("prospects", {"emails": ["bob@acme.com"]})
    reply = await api.patch("prospects", 2, {"emails": ["bob@acme.com", "ada@acme.com"]})
    assert (reply.status, reply.detail) == (422, "Contacts email hash has already been taken.")
    same = await api.patch("prospects", 1, {"emails": ["ada@acme.com", "ada2@acme.com"]})
    assert same.status == 200


async def test_lenient_mode_allows_duplicate_emails(make_sandbox: MakeSandbox) -> None:
    """With --lenient the same email may be on two prospects, so a client's duplicates show."""
    sandbox = await make_sandbox(lenient=True)
    api = await authed(sandbox)
    assert (await api.create("prospects", {"emails": ["ada@acme.com"]})).status == 201
    assert (await api.create("prospects", {"emails": ["ada@acme.com"]})).status == 201
    assert len(await sandbox.prospects()) == 2


async def test_concurrent_duplicate_posts_create_exactly_one(sandbox: SandboxHandle) -> None:
    """Twenty concurrent POSTs of one address: exactly one 201, the rest the email-hash 422."""
    api = await authed(sandbox)
    replies = await asyncio.gather(
        *(api.create("prospects", {"emails": ["race@acme.com"]}) for _ in range(20))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [422] * 19
    assert len(await sandbox.prospects()) == 1


async def test_excluded_domain_is_422(make_sandbox: MakeSandbox) -> None:
    """An address at a configured excluded domain gets the excluded-address 422."""
    sandbox = await make_sandbox(excluded_domains=("blocked.example",))
    api = await authed(sandbox)
    reply = await api.create("prospects", {"emails": ["x@Blocked.Example"]})
    assert (reply.status, reply.detail) == (
        422,
        "Contacts contact is using an excluded email address.",
    )
    assert reply.json["errors"][0]["source"] == {"pointer": "/data"}
    assert (await api.create("prospects", {"emails": ["x@fine.example"]})).status == 201
    assert (await api.patch("prospects", 1, {"emails": ["y@blocked.example"]})).status == 422


async def test_unknown_attribute_is_422_naming_it(sandbox: SandboxHandle) -> None:
    """An attribute Outreach does not have (or a read-only one) is a 422 that names it."""
    api = await authed(sandbox)
    reply = await api.create("prospects", {"emails": ["a@acme.com"], "linkedinUrl": "x"})
    assert (reply.status, reply.error_id) == (422, "validationError")
    assert "linkedinUrl" in reply.detail
    assert reply.json["errors"][0]["source"]["pointer"] == "/data/attributes/linkedinUrl"
    read_only = await api.create("prospects", {"emails": ["a@acme.com"], "name": "Ada"})
    assert read_only.status == 422
    assert await sandbox.prospects() == []


async def test_wrong_type_or_bad_envelope_is_422(sandbox: SandboxHandle) -> None:
    """A body without data, or of another type, is a 422 validationError."""
    api = await authed(sandbox)
    reply = await api.call("POST", "/api/v2/prospects", {"attributes": {}})
    assert (reply.status, reply.error_id) == (422, "validationError")
    wrong = {"data": {"type": "account", "attributes": {"name": "x"}}}
    assert (await api.call("POST", "/api/v2/prospects", wrong)).status == 422
    not_json = await api.call("POST", "/api/v2/prospects", b"{nope")
    assert not_json.status == 400


async def test_users_and_accounts_have_their_own_ids(sandbox: SandboxHandle) -> None:
    """Users (the token owner is user 1, alice 2, bob 3) and accounts number their ids
    independently."""
    api = Api(sandbox, await sandbox.access_token())
    user = await api.create("users", {"firstName": "Rep", "email": "rep@seller.example"})
    assert (user.status, user.json["data"]["id"]) == (201, 4)
    account = await api.create("accounts", {"name": "Acme"})
    assert (account.status, account.json["data"]["id"]) == (201, 1)
    reply = await api.create("prospects", {"emails": ["a@acme.com"]}, owner=4)
    assert reply.json["data"]["relationships"]["owner"] == {"data": {"type": "user", "id": 4}}
    assert len(await sandbox.users()) == 4
    assert len(await sandbox.accounts()) == 1


async def test_an_address_patched_away_is_free_again(sandbox: SandboxHandle) -> None:
    """After a PATCH replaces a prospect's emails, its old address may go to a new prospect."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["old@acme.com"]})
    assert (await api.patch("prospects", 1, {"emails": ["new@acme.com"]})).status == 200
    assert (await api.create("prospects", {"emails": ["old@acme.com"]})).status == 201
    assert (await api.create("prospects", {"emails": ["NEW@acme.com"]})).status == 422
    found = await api.get("/api/v2/prospects", **{"filter[emails]": "new@acme.com"})
    assert [p["id"] for p in found.json["data"]] == [1]


async def test_delete_answers_204_and_frees_the_address(sandbox: SandboxHandle) -> None:
    """DELETE removes the prospect (then 404) and its address can be used again."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["gone@acme.com"]})
    deleted = await api.call("DELETE", "/api/v2/prospects/1")
    assert (deleted.status, deleted.text) == (204, "")
    assert (await api.get("/api/v2/prospects/1")).status == 404
    assert (await api.create("prospects", {"emails": ["gone@acme.com"]})).status == 201


async def test_webhook_subscriptions_take_outreach_defaults(sandbox: SandboxHandle) -> None:
    """A webhook created with only a url gets resource and action '*' and is active."""
    api = await authed(sandbox)
    reply = await api.create("webhooks", {"url": "https://example.com/hook"})
    assert reply.status == 201
    attributes = reply.json["data"]["attributes"]
    assert (attributes["resource"], attributes["action"], attributes["active"]) == ("*", "*", True)
