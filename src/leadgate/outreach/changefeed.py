"""Reading Outreach's records in order, without offsets (outreach-api.md §1.4, §10.6).

``changed_since`` pages ``filter[updatedAt]=<since>..inf&sort=updatedAt`` by key: each next page
starts at the last ``updatedAt`` seen (inclusive, so records sharing that millisecond are not
lost; the ids already read at that instant are skipped). Offsets would shift under records
updated while paging and skip others for good. ``by_id`` is the fetch-all keyset
(``sort=id&filter[id]=N..inf``, next ``N`` = last id + 1, done on a short page), not limited to
Outreach's 10,000-offset ceiling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import WINDOW_REASON, OutreachClient
from leadgate.outreach.jsonapi import attributes, resource_id

PAGE = 1000


async def _page(
    client: OutreachClient, plural: str, params: dict[str, str], exchanges: ExchangeRecorder
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    response = await client.request("GET", f"/api/v2/{plural}", exchanges, params=params)
    data = response.data
    if response.verdict is not Verdict.OK or not isinstance(data, list):
        raise RetriableError(
            f"GET /api/v2/{plural}: Outreach answered {response.status} without a list",
            reason=WINDOW_REASON,
            status=response.status,
        )
    meta = response.document.get("meta") if response.document else None
    return [r for r in data if isinstance(r, dict)], meta if isinstance(meta, dict) else None


async def count(client: OutreachClient, plural: str, since: str | None = None) -> int | None:
    """How many records a full read would return (one ``count=true`` request), if Outreach says."""
    params = {"page[size]": "1", "count": "true"}
    if since:
        params["filter[updatedAt]"] = f"{since}..inf"
    _, meta = await _page(client, plural, params, ExchangeRecorder())
    total = meta.get("count") if meta else None
    return total if isinstance(total, int) else None


async def by_id(
    client: OutreachClient,
    plural: str,
    *,
    after_id: int = 0,
    since: str | None = None,
    page_size: int = PAGE,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every record with an id above ``after_id`` (and updated at or after ``since``), page by
    page in id order."""
    start = after_id + 1
    while True:
        params = {"sort": "id", "filter[id]": f"{start}..inf", "page[size]": str(page_size)}
        params["count"] = "false"
        if since:
            params["filter[updatedAt]"] = f"{since}..inf"
        records, _ = await _page(client, plural, params, ExchangeRecorder())
        records = [r for r in records if (resource_id(r) or 0) >= start]
        if records:
            yield records
        if len(records) < page_size:
            return
        start = max(resource_id(r) or 0 for r in records) + 1


async def changed_since(
    client: OutreachClient, plural: str, since: str, *, page_size: int = PAGE
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every record updated at or after ``since``, page by page in ``updatedAt`` order."""
    cursor = since
    seen_at_cursor: set[int] = set()
    while True:
        params = {
            "sort": "updatedAt,id",
            "filter[updatedAt]": f"{cursor}..inf",
            "page[size]": str(page_size),
            "count": "false",
        }
        records, _ = await _page(client, plural, params, ExchangeRecorder())
        fresh = [r for r in records if resource_id(r) not in seen_at_cursor]
        if fresh:
            yield fresh
        if len(records) < page_size:
            return
        last = attributes(records[-1]).get("updatedAt")
        if not isinstance(last, str):
            return
        if last == cursor:
            # A whole page within one millisecond (over 1,000 writes in it): the next page would
            # repeat this one. Stop here; the next pass starts from the same instant.
            return
        cursor = last
        seen_at_cursor = {
            resource_id(r) or 0 for r in records if attributes(r).get("updatedAt") == last
        }
