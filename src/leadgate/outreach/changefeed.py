"""Reading Outreach's records in order, without offsets (docs/outreach-api.md#listing,
#change-feeds).

``changed_since`` pages ``filter[updatedAt]=<since>..inf&sort=updatedAt`` by key: each next page
starts at the last ``updatedAt`` seen (inclusive, so records sharing that millisecond are not
lost; the ids already read at that instant are skipped). Offsets would shift under records
updated while paging and skip others for good. ``by_id`` is the fetch-all keyset
(``sort=id&filter[id]=N..inf``, next ``N`` = last id + 1, done on a short page), not limited to
Outreach's 10,000-offset ceiling.

``by_id_windows`` is the same read with several requests in flight, so that a slow page does not
leave the rate budget idle (at Outreach's 10,000 requests/hour a request may take only 0.36 s for
a sequential read to keep up). One request (``sort=-id&page[size]=1&count=true``) gives the
highest id and how many records remain; the id range is cut into windows expected to hold
about one page each (``filter[id]=a..b``), fetched ``concurrency`` at a time and handed out in
id order (a window holding more than a page is read on by key). Records created after the first
request are not part of the read.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RateLimited, RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import attributes, resource_id

PAGE = 1000
MAX_WAIT_S = 900.0


async def _page(
    client: OutreachClient, plural: str, params: dict[str, str], exchanges: ExchangeRecorder
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    while True:
        try:
            response = await client.request("GET", f"/api/v2/{plural}", exchanges, params=params)
            break
        except RateLimited as limited:
            # The budget is spent until its reset (or Outreach said 429): a read just waits.
            await asyncio.sleep(min(max(limited.retry_after_s or 1.0, 0.05), MAX_WAIT_S))
    data = response.data
    if response.verdict is not Verdict.OK or not isinstance(data, list):
        raise RetriableError(
            f"GET /api/v2/{plural}: Outreach answered {response.status} without a list",
            reason=RetryReason.VENDOR_AMBIGUOUS,
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


@dataclass(frozen=True, slots=True)
class Span:
    """What remains to read: how many records, and the highest id among them."""

    remaining: int
    last_id: int


async def span(
    client: OutreachClient, plural: str, *, after_id: int = 0, since: str | None = None
) -> Span:
    """One request: the number of records above ``after_id`` and the highest id."""
    params = {
        "sort": "-id",
        "filter[id]": f"{after_id + 1}..inf",
        "page[size]": "1",
        "count": "true",
    }
    if since:
        params["filter[updatedAt]"] = f"{since}..inf"
    records, meta = await _page(client, plural, params, ExchangeRecorder())
    total = meta.get("count") if meta else None
    last = resource_id(records[0]) if records else None
    return Span(total if isinstance(total, int) else len(records), last or after_id)


async def _window(
    client: OutreachClient,
    plural: str,
    low: int,
    high: int | None,
    since: str | None,
    page_size: int,
) -> list[dict[str, Any]]:
    """Every record with an id in ``low..high`` (``None``: no upper bound), read on by key when
    the window holds more than a page."""
    found: list[dict[str, Any]] = []
    start = low
    top = float("inf") if high is None else high
    while start <= top:
        bound = "inf" if high is None else str(high)
        params = {"sort": "id", "filter[id]": f"{start}..{bound}", "page[size]": str(page_size)}
        params["count"] = "false"
        if since:
            params["filter[updatedAt]"] = f"{since}..inf"
        records, _ = await _page(client, plural, params, ExchangeRecorder())
        records = [r for r in records if start <= (resource_id(r) or 0) <= top]
        found.extend(records)
        if len(records) < page_size:
            break
        start = max(resource_id(r) or 0 for r in records) + 1
    return found


async def by_id_windows(
    client: OutreachClient,
    plural: str,
    known: Span,
    *,
    after_id: int = 0,
    since: str | None = None,
    page_size: int = PAGE,
    concurrency: int = 4,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every record above ``after_id``, page by page in id order, ``concurrency`` windows in
    flight; ``known`` is this range's ``span``."""
    width = page_size
    if known.remaining and known.last_id > after_id:
        # A page per window on average (exactly a page where ids are dense); a window that
        # holds more reads on by key.
        width = max(1, int(page_size * (known.last_id - after_id) / known.remaining))
    # The read is the org as of ``known``: records created meanwhile come with the webhooks and
    # the reconciliation poll (an open last window would cost a request on every full page).
    bounds: deque[tuple[int, int | None]] = deque(
        (low, min(low + width - 1, known.last_id))
        for low in range(after_id + 1, known.last_id + 1, width)
    )
    inflight: deque[asyncio.Task[list[dict[str, Any]]]] = deque()
    try:
        while bounds or inflight:
            while bounds and len(inflight) < concurrency:
                low, high = bounds.popleft()
                inflight.append(
                    asyncio.create_task(_window(client, plural, low, high, since, page_size))
                )
            page = await inflight.popleft()
            if page:
                yield page
    finally:
        for task in inflight:
            task.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)
