"""Upserting leads into the real sandbox: request counts, merges, and identity resolution."""

from __future__ import annotations

import asyncio

import pytest

from leadgate.domain.lead import AccountHint
from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.prospect_document import wanted_prospect
from leadgate.outreach.upsert import Upserter
from leadgate.store.memory import MemoryStore
from tests.outreach.client.helpers import make_lead, upserter_for
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api


def _calls(exchanges: ExchangeRecorder) -> list[str]:
    return [f"{e.method} {e.path.partition('?')[0]} {e.status}" for e in exchanges]


async def test_new_lead_costs_a_lookup_and_a_create(sandbox: SandboxHandle) -> None:
    """A free-mail lead (no account) costs exactly 1 lookup + 1 create and makes 1 prospect."""
    exchanges = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        lead = make_lead("ada@gmail.com", account=None)
        result = await upserter.upsert(lead, exchanges)
    assert _calls(exchanges) == ["GET /api/v2/prospects 200", "POST /api/v2/prospects 201"]
    assert result.action == "created"
    assert result.account_id is None
    (prospect,) = await sandbox.prospects()
    assert prospect["id"] == result.prospect_id
    attributes = prospect["attributes"]
    assert attributes["emails"] == ["ada@gmail.com"]
    assert attributes["firstName"] == "Ada"
    assert attributes["title"] == "CTO"
    assert sorted(attributes["tags"]) == ["Signal", "demo-request"]


async def test_new_lead_at_a_new_company_creates_and_links_the_account(
    sandbox: SandboxHandle,
) -> None:
    """A corporate lead costs account lookup + create, prospect lookup + create, and links them;
    a colleague at the same company then costs only the prospect lookup + create."""
    store = MemoryStore()
    first = ExchangeRecorder()
    second = ExchangeRecorder()
    async with upserter_for(sandbox.url, store) as (_, upserter):
        result = await upserter.upsert(make_lead("ada@acme.example"), first)
        colleague = await upserter.upsert(make_lead("bob@acme.example"), second)
    # The prospect lookup runs alongside the account's lookup + create; the create comes last.
    assert sorted(_calls(first)) == [
        "GET /api/v2/accounts 200",
        "GET /api/v2/prospects 200",
        "POST /api/v2/accounts 201",
        "POST /api/v2/prospects 201",
    ]
    assert _calls(first)[-1] == "POST /api/v2/prospects 201"
    assert _calls(second) == ["GET /api/v2/prospects 200", "POST /api/v2/prospects 201"]
    (account,) = await sandbox.accounts()
    assert account["attributes"]["domain"] == "acme.example"
    assert account["attributes"]["name"] == "Acme"
    assert result.account_id == colleague.account_id == account["id"]
    for prospect in await sandbox.prospects():
        assert prospect["relationships"]["account"]["data"]["id"] == account["id"]


async def test_existing_account_is_found_not_duplicated(sandbox: SandboxHandle) -> None:
    """With the account already in Outreach, the lead links to it and no account is created."""
    exchanges = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore()) as (client, upserter):
        await upserter.upsert(make_lead("ada@acme.example"), ExchangeRecorder())
        # Another leadgate with its own (empty) memory, sharing the Outreach user.
        stranger = Upserter(client, MemoryStore(), client.settings)
        result = await stranger.upsert(make_lead("eve@acme.example"), exchanges)
    assert sorted(_calls(exchanges)[:2]) == [
        "GET /api/v2/accounts 200",
        "GET /api/v2/prospects 200",
    ]
    assert len(await sandbox.accounts()) == 1
    assert result.account_id == (await sandbox.accounts())[0]["id"]


async def test_new_tag_costs_a_read_and_a_patch_with_merged_tags(sandbox: SandboxHandle) -> None:
    """Without a fresh mirror, the same lead with a new tag costs a GET of the prospect and 1
    PATCH carrying Outreach's tags plus the new one, and no other attribute; no new prospect."""
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead(), ExchangeRecorder())
        exchanges = ExchangeRecorder()
        result = await upserter.upsert(make_lead(tags=("Signal", "pricing")), exchanges)
    assert _calls(exchanges) == [
        f"GET /api/v2/prospects/{result.prospect_id} 200",
        f"PATCH /api/v2/prospects/{result.prospect_id} 200",
    ]
    assert result.action == "updated"
    (prospect,) = await sandbox.prospects()
    assert sorted(prospect["attributes"]["tags"]) == ["Signal", "demo-request", "pricing"]
    sent = exchanges[1].document
    assert sent is not None
    assert set(sent["data"]["attributes"]) == {"tags"}


async def test_a_fresh_mirror_saves_the_read(sandbox: SandboxHandle) -> None:
    """While webhooks keep the mirror fresh, a new tag costs only the PATCH: the tags to merge
    into come from the mirror (which the create's answer filled)."""
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead(), ExchangeRecorder())
        await upserter.mirror.mark_webhook()
        exchanges = ExchangeRecorder()
        result = await upserter.upsert(make_lead(tags=("Signal", "pricing")), exchanges)
    assert _calls(exchanges) == [f"PATCH /api/v2/prospects/{result.prospect_id} 200"]
    (prospect,) = await sandbox.prospects()
    assert sorted(prospect["attributes"]["tags"]) == ["Signal", "demo-request", "pricing"]


async def _rep(sandbox: SandboxHandle) -> Api:
    """Someone else editing in Outreach, with a token of their own."""
    return Api(sandbox, await sandbox.token_for(await sandbox.issue_refresh_token("prospects.all")))


async def test_a_reps_edits_survive_the_next_lead_event(make_sandbox: MakeSandbox) -> None:
    """Issue 11's scenario: a rep adds hot-lead and retitles the prospect; the visitor's next
    event (same traits, tag signup) adds signup and keeps hot-lead and the rep's title."""
    sandbox = await make_sandbox(mint_interval_s=0)
    async with upserter_for(sandbox.url, MemoryStore(), link_accounts=False) as (_, upserter):
        created = await upserter.upsert(make_lead(), ExchangeRecorder())
        rep = await _rep(sandbox)
        await rep.patch(
            "prospects",
            created.prospect_id or 0,
            {"title": "VP Growth", "tags": ["Signal", "demo-request", "hot-lead"]},
        )
        exchanges = ExchangeRecorder()
        await upserter.upsert(make_lead(tags=("Signal", "signup")), exchanges)
    (prospect,) = await sandbox.prospects()
    attributes = prospect["attributes"]
    assert attributes["tags"] == ["Signal", "demo-request", "hot-lead", "signup"]
    assert attributes["title"] == "VP Growth"
    patch = exchanges[-1].document
    assert patch is not None
    assert patch["data"]["attributes"] == {"tags": ["Signal", "demo-request", "hot-lead", "signup"]}


async def test_a_changed_lead_value_is_sent_but_nothing_is_cleared(
    make_sandbox: MakeSandbox,
) -> None:
    """A title the lead changes is sent (without a read); a value the lead no longer has is not
    cleared, and phones the rep added stay when the lead brings a new one."""
    sandbox = await make_sandbox(mint_interval_s=0)
    async with upserter_for(sandbox.url, MemoryStore(), link_accounts=False) as (_, upserter):
        lead = make_lead()
        first = lead.model_copy(update={"attributes": {**lead.attributes, "mobilePhones": ["+1"]}})
        created = await upserter.upsert(first, ExchangeRecorder())
        rep = await _rep(sandbox)
        await rep.patch("prospects", created.prospect_id or 0, {"mobilePhones": ["+1", "+2"]})
        retitled = {**lead.attributes, "title": "CEO", "firstName": None}
        exchanges = ExchangeRecorder()
        await upserter.upsert(lead.model_copy(update={"attributes": retitled}), exchanges)
        assert _calls(exchanges) == [f"PATCH /api/v2/prospects/{created.prospect_id} 200"]
        assert exchanges[0].document is not None
        assert exchanges[0].document["data"]["attributes"] == {"title": "CEO"}
        phoned = {**lead.attributes, "title": "CEO", "mobilePhones": ["+3"]}
        await upserter.upsert(lead.model_copy(update={"attributes": phoned}), ExchangeRecorder())
    (prospect,) = await sandbox.prospects()
    attributes = prospect["attributes"]
    assert attributes["title"] == "CEO"
    assert attributes["firstName"] == "Ada"
    assert attributes["mobilePhones"] == ["+1", "+2", "+3"]


async def test_unchanged_lead_costs_no_request(sandbox: SandboxHandle) -> None:
    """Sending the same lead again (same attributes, known tags) makes no request at all."""
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        await upserter.upsert(make_lead(), ExchangeRecorder())
        before = len(await sandbox.api_requests())
        exchanges = ExchangeRecorder()
        result = await upserter.upsert(make_lead(tags=("demo-request",)), exchanges)
    assert result.action == "unchanged"
    assert not exchanges.exchanges
    assert len(await sandbox.api_requests()) == before


async def test_known_prospect_keeps_its_other_emails_and_tags(sandbox: SandboxHandle) -> None:
    """A prospect found by email keeps addresses and tags someone added in Outreach."""
    exchanges = ExchangeRecorder()
    async with upserter_for(sandbox.url, MemoryStore(), link_accounts=False) as (client, up):
        document = {
            "data": {
                "type": "prospect",
                "attributes": {
                    "emails": ["ada.l@home.example", "ada@acme.example"],
                    "tags": ["vip"],
                    "firstName": "Ada",
                },
            }
        }
        await client.request("POST", "/api/v2/prospects", ExchangeRecorder(), document=document)
        result = await up.upsert(make_lead(), exchanges)
    assert result.action == "updated"
    assert [e.method for e in exchanges] == ["GET", "PATCH"]
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emails"] == ["ada.l@home.example", "ada@acme.example"]
    assert sorted(prospect["attributes"]["tags"]) == ["Signal", "demo-request", "vip"]
    assert prospect["attributes"]["title"] == "CTO"


async def test_a_new_address_is_appended_not_overwritten(sandbox: SandboxHandle) -> None:
    """When the lookup finds a prospect lacking the lead's address, it is appended to emails."""
    async with upserter_for(sandbox.url, MemoryStore(), link_accounts=False) as (_, upserter):
        await upserter.upsert(make_lead("ada@acme.example"), ExchangeRecorder())
        match = (await sandbox.prospects())[0]
        exchanges = ExchangeRecorder()
        await upserter._patch_match(  # the path a lookup by another id would take
            match,
            wanted_prospect(make_lead("ada@second.example"), None),
            exchanges,
        )
    (prospect,) = await sandbox.prospects()
    assert prospect["attributes"]["emails"] == ["ada@acme.example", "ada@second.example"]


async def test_deleted_prospect_falls_back_to_lookup_and_create(sandbox: SandboxHandle) -> None:
    """A remembered id Outreach no longer knows (404) is forgotten and the lead re-created."""
    store = MemoryStore()
    async with upserter_for(sandbox.url, store, link_accounts=False) as (_, upserter):
        created = await upserter.upsert(make_lead(), ExchangeRecorder())
        await sandbox.reset()
        exchanges = ExchangeRecorder()
        result = await upserter.upsert(make_lead(tags=("new",)), exchanges)
    assert _calls(exchanges) == [
        f"GET /api/v2/prospects/{created.prospect_id} 404",
        "GET /api/v2/prospects 200",
        "POST /api/v2/prospects 201",
    ]
    assert result.action == "created"
    assert len(await sandbox.prospects()) == 1


async def test_email_taken_race_ends_in_a_patch(sandbox: SandboxHandle) -> None:
    """If the prospect appears between lookup and create, the 422 leads to lookup + PATCH."""
    async with upserter_for(sandbox.url, MemoryStore(), link_accounts=False) as (client, up):
        original = client.request
        raced = False

        async def racing_request(method: str, target: object, *args: object, **kw: object):  # type: ignore[no-untyped-def]
            nonlocal raced
            if method == "POST" and not raced:
                raced = True
                doc = {"data": {"type": "prospect", "attributes": {"emails": ["ada@acme.example"]}}}
                await original("POST", "/api/v2/prospects", ExchangeRecorder(), document=doc)
            return await original(method, target, *args, **kw)  # type: ignore[arg-type]

        client.request = racing_request  # type: ignore[method-assign]
        exchanges = ExchangeRecorder()
        result = await up.upsert(make_lead(), exchanges)
    assert [f"{e.method} {e.status}" for e in exchanges] == [
        "GET 200",
        "POST 422",
        "GET 200",
        "PATCH 200",
    ]
    assert result.action == "updated"
    assert len(await sandbox.prospects()) == 1


async def test_unknown_attribute_is_permanent_and_sanitised(sandbox: SandboxHandle) -> None:
    """An attribute Outreach does not know dead-letters as vendor_validation without the email."""
    lead = make_lead(account=None, attributes={"emails": ["ada@acme.example"], "shoeSize": "9"})
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(PermanentError) as error:
            await upserter.upsert(lead, ExchangeRecorder())
    assert error.value.reason == "vendor_validation"
    assert "shoeSize" in error.value.message
    assert "ada@acme.example" not in error.value.message


async def test_excluded_domain_is_permanent(make_sandbox: MakeSandbox) -> None:
    """An address on Outreach's exclusion list dead-letters as excluded_domain."""
    sandbox = await make_sandbox(excluded_domains=("blocked.example",))
    lead = make_lead("ann@blocked.example", account=None)
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        with pytest.raises(PermanentError) as error:
            await upserter.upsert(lead, ExchangeRecorder())
    assert error.value.reason == "excluded_domain"
    assert "ann@blocked.example" not in error.value.message
    assert await sandbox.prospects() == []


async def test_concurrent_upserts_of_one_email_make_one_prospect(
    make_sandbox: MakeSandbox,
) -> None:
    """Even where Outreach allows duplicates, 16 concurrent upserts of one email make 1 prospect."""
    sandbox = await make_sandbox(lenient=True)
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        leads = [make_lead(tags=(f"t{i}",)) for i in range(16)]
        results = await asyncio.gather(
            *(upserter.upsert(lead, ExchangeRecorder()) for lead in leads)
        )
    (prospect,) = await sandbox.prospects()
    assert {r.prospect_id for r in results} == {prospect["id"]}
    assert set(prospect["attributes"]["tags"]) >= {f"t{i}" for i in range(16)}
    assert len(await sandbox.accounts()) == 1


async def test_free_mail_never_becomes_an_account(sandbox: SandboxHandle) -> None:
    """A gmail address with a company name links no account and creates none."""
    lead = make_lead("ada@gmail.com", account=AccountHint(name="Acme"))
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        result = await upserter.upsert(lead, ExchangeRecorder())
    assert result.account_id is None
    assert await sandbox.accounts() == []


async def test_concurrent_new_leads_share_comma_list_lookups(sandbox: SandboxHandle) -> None:
    """60 new leads upserted together cost 2 lookups (<= 50 emails each) and 60 creates; each
    lead's trace shows only its own address and match."""
    leads = [make_lead(f"batch{i}@gmail.com", account=None) for i in range(60)]
    traces = [ExchangeRecorder() for _ in leads]
    async with upserter_for(sandbox.url, MemoryStore()) as (_, upserter):
        results = await asyncio.gather(
            *(upserter.upsert(lead, trace) for lead, trace in zip(leads, traces, strict=True))
        )
    assert [r.action for r in results] == ["created"] * 60
    api = await sandbox.api_requests()
    lookups = [r for r in api if r["method"] == "GET"]
    assert len(lookups) == 2
    assert sorted(len(r["query"]["filter[emails]"].split(",")) for r in lookups) == [10, 50]
    assert sum(1 for r in api if r["method"] == "POST") == 60
    assert len(await sandbox.prospects()) == 60
    lookup = traces[7][0]
    assert lookup.method == "GET"
    assert "batch7@gmail.com" in lookup.path
    assert "batch8@gmail.com" not in lookup.path
    assert lookup.response == {"data": []}


async def test_concurrent_returning_leads_find_their_prospects_in_one_lookup(
    sandbox: SandboxHandle,
) -> None:
    """Prospects created elsewhere are found by one comma-list lookup and patched, not
    duplicated."""
    leads = [make_lead(f"known{i}@gmail.com", account=None) for i in range(5)]
    store = MemoryStore()
    async with upserter_for(sandbox.url, store) as (_, upserter):
        for lead in leads:
            await upserter.upsert(lead, ExchangeRecorder())
            await store.forget_prospect(lead.email)  # as if another process had created it
        before = len(await sandbox.api_requests())
        changed = [lead.model_copy(update={"tags": ("Signal", "webinar")}) for lead in leads]
        results = await asyncio.gather(
            *(upserter.upsert(lead, ExchangeRecorder()) for lead in changed)
        )
    assert [r.action for r in results] == ["updated"] * 5
    api = (await sandbox.api_requests())[before:]
    assert sorted(r["method"] for r in api) == ["GET"] + ["PATCH"] * 5
    assert len(await sandbox.prospects()) == 5


async def test_a_failed_shared_lookup_fails_every_lead_that_shared_it(
    sandbox: SandboxHandle,
) -> None:
    """A 503 on a comma-list lookup makes each of its leads retriable (none is created blind),
    and each lead's trace records the failed request."""
    leads = [make_lead(f"shared{i}@gmail.com", account=None) for i in range(3)]
    traces = [ExchangeRecorder() for _ in leads]
    async with upserter_for(sandbox.url, MemoryStore()) as (client, upserter):
        await client.auth.access_token()
        await sandbox.faults(status=503, count=1)
        outcomes = await asyncio.gather(
            *(upserter.upsert(lead, trace) for lead, trace in zip(leads, traces, strict=True)),
            return_exceptions=True,
        )
    assert all(isinstance(o, RetriableError) for o in outcomes)
    assert [[e.status for e in trace] for trace in traces] == [[503]] * 3
    assert await sandbox.prospects() == []


async def test_an_account_gone_from_outreach_is_found_or_created_again(
    sandbox: SandboxHandle,
) -> None:
    """A remembered account id Outreach no longer has (deleted or merged away there, or a fresh
    sandbox under an old state dir) fails that attempt as retriable, not as a dead letter; the id
    is forgotten, and the next attempt creates the account again and links the prospect to it."""
    store = MemoryStore()
    await store.put_account("acme.example", 999)
    async with upserter_for(sandbox.url, store) as (_, upserter):
        with pytest.raises(RetriableError, match="no longer exists") as failed:
            await upserter.upsert(make_lead("ada@acme.example"), ExchangeRecorder())
        assert failed.value.reason is RetryReason.RECORD_MOVED
        assert await store.get_account("acme.example") is None
        result = await upserter.upsert(make_lead("ada@acme.example"), ExchangeRecorder())
    (account,) = await sandbox.accounts()
    assert account["attributes"]["domain"] == "acme.example"
    assert result.action == "created"
    assert result.account_id == account["id"] != 999
    (prospect,) = await sandbox.prospects()
    assert prospect["relationships"]["account"]["data"]["id"] == account["id"]
