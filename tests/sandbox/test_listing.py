"""Collection GETs: filters (emails case-insensitively across the array, domain, name, ids,
relationship ids), sorting, and cursor pagination through absolute links.next."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import Api, authed


def _ids(reply: Any) -> list[int]:
    return [item["id"] for item in reply.json["data"]]


async def _seed_prospects(api: Api, count: int) -> None:
    for n in range(count):
        reply = await api.create("prospects", {"emails": [f"p{n}@acme.com"], "firstName": f"P{n}"})
        assert reply.status == 201


async def test_email_filter_matches_any_address_case_insensitively(sandbox: SandboxHandle) -> None:
    """filter[emails] finds a prospect by any of its addresses, in any letter case."""
    api = await authed(sandbox)
    await api.create("prospects", {"emails": ["first@acme.com", "Second@Acme.com"]})
    await api.create("prospects", {"emails": ["other@acme.com"]})
    assert _ids(await api.get("/api/v2/prospects", **{"filter[emails]": "SECOND@acme.COM"})) == [1]
    assert _ids(await api.get("/api/v2/prospects", **{"filter[emails]": "nobody@acme.com"})) == []
    both = await api.get("/api/v2/prospects", **{"filter[emails]": "first@acme.com,other@acme.com"})
    assert _ids(both) == [1, 2]


async def test_account_filters_by_domain_and_name(sandbox: SandboxHandle) -> None:
    """filter[domain] and filter[name] select accounts; accounts are never deduplicated."""
    api = await authed(sandbox)
    await api.create("accounts", {"name": "Acme", "domain": "acme.com"})
    await api.create("accounts", {"name": "Globex", "domain": "globex.com"})
    await api.create("accounts", {"name": "Acme", "domain": "acme.com"})
    assert _ids(await api.get("/api/v2/accounts", **{"filter[domain]": "ACME.com"})) == [1, 3]
    assert _ids(await api.get("/api/v2/accounts", **{"filter[name]": "globex"})) == [2]


async def test_id_and_relationship_filters(sandbox: SandboxHandle) -> None:
    """filter[id] takes lists and inclusive ranges; filter[account][id] selects by link."""
    api = await authed(sandbox)
    await api.create("accounts", {"name": "Acme"})
    await _seed_prospects(api, 5)
    await api.call(
        "PATCH",
        "/api/v2/prospects/4",
        {
            "data": {
                "type": "prospect",
                "id": 4,
                "relationships": {"account": {"data": {"type": "account", "id": 1}}},
            }
        },
    )
    assert _ids(await api.get("/api/v2/prospects", **{"filter[id]": "2,5"})) == [2, 5]
    assert _ids(await api.get("/api/v2/prospects", **{"filter[id]": "3..inf"})) == [3, 4, 5]
    assert _ids(await api.get("/api/v2/prospects", **{"filter[account][id]": "1"})) == [4]


async def test_unknown_filter_is_400(sandbox: SandboxHandle) -> None:
    """Filtering on an attribute the resource does not have is a 400."""
    api = await authed(sandbox)
    reply = await api.get("/api/v2/prospects", **{"filter[shoeSize]": "9"})
    assert (reply.status, reply.error_id) == (400, "filterParameter.unknownAttribute")


async def test_cursor_pagination_walks_every_record_once(sandbox: SandboxHandle) -> None:
    """page[size] pages follow absolute links.next, keep the filter, and stop without next."""
    api = await authed(sandbox)
    await _seed_prospects(api, 7)
    seen: list[int] = []
    reply = await api.get("/api/v2/prospects", **{"page[size]": "3", "filter[id]": "2..inf"})
    pages = 1
    while "next" in reply.json["links"]:
        next_url = reply.json["links"]["next"]
        assert next_url.startswith(f"{sandbox.url}/api/v2/prospects?")
        assert "page%5Bafter%5D=" in next_url or "page[after]=" in next_url
        seen += _ids(reply)
        reply = await api.get(next_url)
        pages += 1
    seen += _ids(reply)
    assert seen == [2, 3, 4, 5, 6, 7]
    assert pages == 2


async def test_default_page_is_50_and_size_is_capped(sandbox: SandboxHandle) -> None:
    """Without page[size] a page holds 50; page[size] above 1000 is refused."""
    api = await authed(sandbox)
    await _seed_prospects(api, 51)
    first = await api.get("/api/v2/prospects")
    assert len(first.json["data"]) == 50
    assert "next" in first.json["links"]
    last = await api.get(first.json["links"]["next"])
    assert _ids(last) == [51]
    assert "next" not in last.json["links"]
    assert (await api.get("/api/v2/prospects", **{"page[size]": "1000"})).status == 200
    assert (await api.get("/api/v2/prospects", **{"page[size]": "1001"})).status == 400


async def test_sort_and_count(sandbox: SandboxHandle) -> None:
    """sort=-id reverses the order; count=true adds meta.count of all matches."""
    api = await authed(sandbox)
    await _seed_prospects(api, 4)
    reply = await api.get("/api/v2/prospects", sort="-id", count="true", **{"page[size]": "2"})
    assert _ids(reply) == [4, 3]
    assert reply.json["meta"] == {"count": 4, "count_truncated": False}
    assert "meta" not in (await api.get("/api/v2/prospects")).json


async def test_bad_cursor_is_400(sandbox: SandboxHandle) -> None:
    """A page[after] this server did not issue is a 400."""
    api = await authed(sandbox)
    reply = await api.get("/api/v2/prospects", **{"page[after]": "garbage!"})
    assert reply.status == 400


async def test_updated_at_ranges_and_sort_feed_a_change_poll(sandbox: SandboxHandle) -> None:
    """filter[updatedAt]=a..b is inclusive with open ends, sort=updatedAt orders by last change,
    and the new syntax's [gte] bound agrees (the reconciliation poll's change feed)."""
    api = await authed(sandbox)
    await _seed_prospects(api, 3)
    await asyncio.sleep(0.01)
    await api.patch("prospects", 1, {"title": "VP"})
    listed = (await api.get("/api/v2/prospects", sort="updatedAt")).json["data"]
    assert [p["id"] for p in listed] == [2, 3, 1]
    cursor = listed[-1]["attributes"]["updatedAt"]
    since = await api.get("/api/v2/prospects", **{"filter[updatedAt]": f"{cursor}..inf"})
    assert _ids(since) == [1]
    before = await api.get("/api/v2/prospects", **{"filter[updatedAt]": f"neginf..{cursor}"})
    assert _ids(before) == [1, 2, 3]
    new = await api.get(
        "/api/v2/prospects", newFilterSyntax="true", **{"filter[updatedAt][gte]": cursor}
    )
    assert _ids(new) == [1]
    bad = await api.get("/api/v2/prospects", **{"filter[updatedAt]": "yesterday..inf"})
    assert (bad.status, bad.error_id) == (400, "filterParameter.invalidDatetimeFormat")


async def test_keyset_paging_by_id_reaches_past_any_offset(sandbox: SandboxHandle) -> None:
    """sort=id&filter[id]=N..inf pages by key: each page starts after the last id seen."""
    api = await authed(sandbox)
    await _seed_prospects(api, 7)
    seen: list[int] = []
    start = 1
    while True:
        page = _ids(
            await api.get(
                "/api/v2/prospects", sort="id", **{"filter[id]": f"{start}..inf", "page[size]": "3"}
            )
        )
        seen += page
        if len(page) < 3:
            break
        start = page[-1] + 1
    assert seen == [1, 2, 3, 4, 5, 6, 7]
