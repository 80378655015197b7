"""Server-side sources: a CRM posts people and opportunities with a server write key (no
origins): accepted without an Origin, refused from a browser page, named in the record, and
limited per key like every other key."""

from __future__ import annotations

import aiohttp
from pydantic import SecretStr

from leadgate.settings import WriteKey
from tests.plugins.collector import SHOP_ORIGIN, MakeCollector, basic, default_write_keys

CRM_KEY = "wk_crm_server_5d1e"
PERSON = {
    "userId": "P-1",
    "traits": {"email": "jane.doe@acme.com", "syncToOutreach": True, "assignedTo": "alice"},
}
OPPORTUNITY = {
    "userId": "P-1",
    "event": "Opportunity Updated",
    "properties": {"opportunity": {"id": "OPP-1", "name": "Acme renewal", "stage": "Negotiation"}},
}


def _keys(*extra: WriteKey) -> tuple[WriteKey, ...]:
    return (*default_write_keys(), *extra)


async def test_a_server_key_posts_crm_records_named_by_its_source(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """Without an Origin header, identify and Opportunity Updated are accepted and carry the
    key's name as context.leadgate.source; the same key from a web page is refused."""
    server = WriteKey(key=SecretStr(CRM_KEY), name="workbooks")
    collector = await make_collector(write_keys=_keys(server))
    for path, body in (("/v1/identify", PERSON), ("/v1/track", OPPORTUNITY)):
        async with http.post(f"{collector.url}{path}", json=body, headers=basic(CRM_KEY)) as reply:
            assert reply.status == 200, await reply.text()
    browser = {**basic(CRM_KEY), "Origin": SHOP_ORIGIN}
    async with http.post(f"{collector.url}/v1/identify", json=PERSON, headers=browser) as reply:
        assert reply.status == 403
        assert (await reply.json())["error"]["code"] == "origin_not_allowed"
    records = await collector.records()
    assert [r.value["type"] for r in records] == ["identify", "track"]
    assert all(r.value["context"]["leadgate"] == {"source": "workbooks"} for r in records)
    assert records[1].value["properties"]["opportunity"]["id"] == "OPP-1"


async def test_a_server_key_has_its_own_rate_limit(
    make_collector: MakeCollector, http: aiohttp.ClientSession
) -> None:
    """A CRM that posts faster than its key's rate gets 429 with Retry-After, as any key does."""
    server = WriteKey(key=SecretStr(CRM_KEY), name="workbooks")
    collector = await make_collector(write_keys=_keys(server), per_key_rate=2.0)
    statuses = []
    for _ in range(6):
        async with http.post(
            f"{collector.url}/v1/identify", json=PERSON, headers=basic(CRM_KEY)
        ) as reply:
            statuses.append(reply.status)
            if reply.status == 429:
                assert int(reply.headers["Retry-After"]) >= 1
    assert 200 in statuses
    assert 429 in statuses
