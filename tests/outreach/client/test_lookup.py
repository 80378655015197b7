"""Batched lookups against the sandbox: who waits for whom, how keys are split into requests,
and what each caller's trace shows."""

from __future__ import annotations

import asyncio
from typing import Any

from leadgate.domain.trace import ExchangeRecorder
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.lookup import BatchLookup
from leadgate.store.memory import MemoryStore
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import SandboxHandle

PROSPECTS = "/api/v2/prospects"


def _has_email(prospect: dict[str, Any], email: str) -> bool:
    return email in prospect["attributes"]["emails"]


async def _create(client: OutreachClient, *emails: str) -> None:
    for email in emails:
        document = {"data": {"type": "prospect", "attributes": {"emails": [email]}}}
        await client.request("POST", PROSPECTS, ExchangeRecorder(), document=document)


async def _lookups(sandbox: SandboxHandle) -> list[list[str]]:
    """The keys of every prospect lookup the sandbox received, in order."""
    return [
        r["query"]["filter[emails]"].split(",")
        for r in await sandbox.api_requests()
        if r["method"] == "GET" and "filter[emails]" in r["query"]
    ]


async def test_callers_that_need_no_lookup_do_not_hold_the_others(sandbox: SandboxHandle) -> None:
    """Of three ticket holders, two ask and one closes: one GET carries both keys and each
    caller gets only its own matches."""
    async with OutreachClient(make_settings(sandbox.url), MemoryStore()) as client:
        await _create(client, "a@acme.example", "b@acme.example")
        lookup = BatchLookup(client, PROSPECTS, "emails", _has_email, max_wait_s=30)
        first, second, idle = lookup.ticket(), lookup.ticket(), lookup.ticket()
        found_a = asyncio.ensure_future(first.find("a@acme.example", ExchangeRecorder()))
        found_c = asyncio.ensure_future(second.find("c@acme.example", ExchangeRecorder()))
        idle.close()
        a, c = await asyncio.gather(found_a, found_c)
    assert [p["attributes"]["emails"] for p in a] == [["a@acme.example"]]
    assert c == []
    assert [sorted(keys) for keys in await _lookups(sandbox)] == [
        ["a@acme.example", "c@acme.example"]
    ]


async def test_a_silent_ticket_holder_delays_the_batch_only_until_the_wait_ends(
    sandbox: SandboxHandle,
) -> None:
    """A holder that neither asks nor closes cannot stall the others: the batch goes when
    max_wait_s has passed."""
    async with OutreachClient(make_settings(sandbox.url), MemoryStore()) as client:
        lookup = BatchLookup(client, PROSPECTS, "emails", _has_email, max_wait_s=0.05)
        asker, _silent = lookup.ticket(), lookup.ticket()
        assert await asker.find("nobody@acme.example", ExchangeRecorder()) == []
    assert await _lookups(sandbox) == [["nobody@acme.example"]]


async def test_keys_beyond_max_keys_go_in_further_requests_and_traces_show_one_key(
    sandbox: SandboxHandle,
) -> None:
    """Five keys with max_keys=2 make three GETs; each caller's trace names its own key and
    says how many shared the request, never another caller's address."""
    emails = [f"k{i}@acme.example" for i in range(5)]
    traces = [ExchangeRecorder() for _ in emails]
    async with OutreachClient(make_settings(sandbox.url), MemoryStore()) as client:
        lookup = BatchLookup(client, PROSPECTS, "emails", _has_email, max_keys=2)
        tickets = [lookup.ticket() for _ in emails]
        await asyncio.gather(
            *(t.find(e, r) for t, e, r in zip(tickets, emails, traces, strict=True))
        )
    assert sorted(len(keys) for keys in await _lookups(sandbox)) == [1, 2, 2]
    for email, trace in zip(emails, traces, strict=True):
        [exchange] = list(trace)
        assert email in exchange.path
        others = [other for other in emails if other != email]
        assert not any(other in exchange.path for other in others)
