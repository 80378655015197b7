"""Opportunity stages by name: ``GET /opportunityStages?filter[name]=`` once, then cached.

Opportunity stages are their own Outreach object (not the prospect ``stages``); an org has few
and renames them rarely, so a found id is kept in routing's ``OutreachCache`` (collection
``cache.outreach``, key ``opportunityStage:<name>``, names compared without case as Outreach's
filter does). A name Outreach does not know is not cached: its record is dead-lettered, and when
someone creates the stage, the replay must find it at once.
"""

from __future__ import annotations

from leadgate.domain.trace import ExchangeRecorder
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import attributes, collect, resource_id
from leadgate.store.base import StateStore
from leadgate.store.routing import OutreachCache

STAGES = "/api/v2/opportunityStages"


class OpportunityStages:
    """A ``NameResolver`` for opportunity stage names."""

    def __init__(self, client: OutreachClient, store: StateStore, *, max_pages: int = 5) -> None:
        self._client = client
        self._cache = OutreachCache(store)
        self._max_pages = max_pages

    async def __call__(self, name: str, exchanges: ExchangeRecorder) -> int | None:
        """The id of the stage called ``name``, or None when Outreach has none."""
        wanted = name.strip().lower()
        cached = await self._cache.get("opportunityStage", wanted)
        if cached is not None and isinstance(cached.get("id"), int):
            return int(cached["id"])
        params = {"filter[name]": name, "count": "false"}
        found = await collect(self._client, STAGES, params, exchanges, max_pages=self._max_pages)
        exact = [s for s in found if attributes(s).get("name") == name]
        caseless = [s for s in found if str(attributes(s).get("name", "")).lower() == wanted]
        ids = sorted(i for i in (resource_id(s) for s in exact or caseless) if i is not None)
        if not ids:
            return None
        await self._cache.put("opportunityStage", wanted, {"id": ids[0]})
        return ids[0]
