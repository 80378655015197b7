"""The ``upsert_opportunity`` handler: one CRM opportunity as one Outreach opportunity, with its
stage, owner, account and the people related to it, each with their role.

Never a second opportunity for one source record, also under redelivery and kill -9:

1. Remembered (``store/opportunities.py``) → PATCH what changed (404: forget it, go on with 2).
2. Else ``GET /opportunities?filter[customId]=<system>:<id>``: the source id is written to the
   opportunity's ``customId`` on create, so a crash between the POST and remembering it, a lost
   state store or an ambiguous create is rebuilt by this lookup (the oldest match wins).
3. Else POST.

Stage by name (``opportunityStage``; an unknown stage is a permanent failure a person can fix),
owner by username (an unknown user leaves the owner blank and says so, as Workbooks does),
account by domain (``AccountLinker``). Each contact is found or created as a prospect
(``ProspectFinder``) and linked by one ``opportunityProspectRole`` per (opportunity, prospect,
role): a person related twice with two roles gets two roles (``outreach/opportunity_roles.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from leadgate.domain.lead import AccountHint, LeadIntent
from leadgate.domain.opportunity import OpportunityContact, OpportunityPlan
from leadgate.domain.reasons import DeadLetterReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.accounts import AccountLinker
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import WINDOW_REASON, OutreachClient
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.outreach.jsonapi import attributes, collect, related_id, resource_id
from leadgate.outreach.locks import KeyedLocks
from leadgate.outreach.opportunity_roles import RoleSync, written
from leadgate.store.opportunities import OpportunityMemories, OpportunityMemory

OPPORTUNITIES = "/api/v2/opportunities"
_RELATIONSHIPS = {
    "account": "account",
    "owner": "user",
    "opportunityStage": "opportunityStage",
    "primaryProspect": "prospect",
}


class NameResolver(Protocol):
    """Finds an Outreach id by a name (a username, a stage name); None when there is none."""

    async def __call__(self, name: str, exchanges: ExchangeRecorder) -> int | None: ...


class ProspectFinder(Protocol):
    """The prospect of a contact's email: found, or created when there is none."""

    async def __call__(
        self, email: str, exchanges: ExchangeRecorder, *, known: int | None = None
    ) -> int | None: ...


def _document(
    attrs: dict[str, Any], links: Mapping[str, int | None], opportunity_id: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "opportunity"}
    if opportunity_id is not None:
        data["id"] = opportunity_id
    data["attributes"] = attrs
    relationships = {
        name: {"data": None if value is None else {"type": _RELATIONSHIPS[name], "id": value}}
        for name, value in links.items()
    }
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


def _oldest(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    with_ids = sorted(
        ((resource_id(r), r) for r in found if resource_id(r) is not None),
        key=lambda pair: pair[0] or 0,
    )
    return with_ids[0][1] if with_ids else None


class OpportunityWriter:
    """Writes ``upsert_opportunity`` intents; see the module docstring."""

    def __init__(
        self,
        client: OutreachClient,
        memories: OpportunityMemories,
        accounts: AccountLinker,
        *,
        stages: NameResolver,
        owners: NameResolver | None,
        prospects: ProspectFinder,
        max_pages: int = 5,
    ) -> None:
        self._client = client
        self._memories = memories
        self._accounts = accounts
        self._stages = stages
        self._owners = owners
        self._prospects = prospects
        self._max_pages = max_pages
        self._locks = KeyedLocks()
        self._roles = RoleSync(client, memories, max_pages=max_pages)

    async def upsert(self, intent: LeadIntent, exchanges: ExchangeRecorder) -> DeliveryResult:
        """One attempt at the opportunity and its roles; raises the ``errors`` types."""
        plan, source = intent.opportunity, intent.source
        if plan is None or source is None:
            raise PermanentError(
                "an upsert_opportunity intent without its opportunity or source",
                reason=str(DeadLetterReason.DESERIALIZE),
            )
        key = plan.custom_id(source.system)
        async with self._locks.hold(key):
            return await self._upsert(key, plan, source.system, exchanges)

    async def _upsert(
        self, key: str, plan: OpportunityPlan, system: str, exchanges: ExchangeRecorder
    ) -> DeliveryResult:
        notes: list[str] = []
        memory = await self._memories.get(key)
        links = await self._links(plan, exchanges, notes)
        contacts = await self._contact_ids(plan.contacts, memory, exchanges)
        linked = tuple(c for c in plan.contacts if c.email in contacts)
        if len(linked) < len(plan.contacts):
            notes.append("a contact who asked to be forgotten was left out")
        primary = next((contacts[c.email] for c in linked if c.primary), None)
        if primary is not None:
            links["primaryProspect"] = primary
        attrs = plan.attributes(system)
        sent = {"attributes": attrs, "links": links}
        action = "unchanged"
        opportunity_id: int | None = None
        if memory is not None:
            opportunity_id, action = await self._update_known(memory, sent, exchanges)
            if opportunity_id is None:
                await self._memories.forget(key)
                memory = None
        fresh = False
        if opportunity_id is None:
            found = _oldest(await self._find(key, exchanges))
            if found is None:
                opportunity_id = await self._create(attrs, links, exchanges)
                action, fresh = "created", True
            else:
                opportunity_id = resource_id(found)
                assert opportunity_id is not None
                action = await self._update_found(found, opportunity_id, attrs, links, exchanges)
                notes.append("found by its source id in Outreach (customId)")
        await self._memories.put(key, OpportunityMemory(opportunity_id, sent, contacts))
        role_action = await self._roles.sync(opportunity_id, linked, contacts, fresh, exchanges)
        if action == "unchanged" and role_action:
            action = "updated"
        return DeliveryResult(
            "opportunity", opportunity_id, action, links.get("account"), notes=tuple(notes)
        )

    async def _links(
        self, plan: OpportunityPlan, exchanges: ExchangeRecorder, notes: list[str]
    ) -> dict[str, int | None]:
        links: dict[str, int | None] = {}
        if plan.stage is not None:
            stage_id = await self._stages(plan.stage, exchanges)
            if stage_id is None:
                raise PermanentError(
                    f"Outreach has no opportunity stage named {plan.stage!r}",
                    reason=str(DeadLetterReason.UNKNOWN_STAGE),
                )
            links["opportunityStage"] = stage_id
        if plan.owner is not None and self._owners is None:
            notes.append(f"owner {plan.owner!r} not resolved: no user directory in this worker")
        elif plan.owner is not None and self._owners is not None:
            owner_id = await self._owners(plan.owner, exchanges)
            if owner_id is None:
                notes.append(f"owner {plan.owner!r} is no Outreach username: left blank")
            else:
                links["owner"] = owner_id
        if plan.account_domain is not None:
            hint = AccountHint(domain=plan.account_domain)
            account_id = await self._accounts.resolve(hint, "", exchanges)
            if account_id is not None:
                links["account"] = account_id
        return links

    async def _contact_ids(
        self,
        contacts: tuple[OpportunityContact, ...],
        memory: OpportunityMemory | None,
        exchanges: ExchangeRecorder,
    ) -> dict[str, int]:
        known = memory.contacts if memory is not None else {}
        ids: dict[str, int] = {}
        for email in dict.fromkeys(contact.email for contact in contacts):
            found = await self._prospects(email, exchanges, known=known.get(email))
            if found is not None:  # None: a forgotten person, left out of the opportunity
                ids[email] = found
        return ids

    async def _find(self, key: str, exchanges: ExchangeRecorder) -> list[dict[str, Any]]:
        params = {"filter[customId]": key, "count": "false"}
        found = await collect(
            self._client, OPPORTUNITIES, params, exchanges, max_pages=self._max_pages
        )
        return [o for o in found if attributes(o).get("customId") == key]

    async def _create(
        self, attrs: dict[str, Any], links: dict[str, int | None], exchanges: ExchangeRecorder
    ) -> int:
        set_links = {name: value for name, value in links.items() if value is not None}
        response = await self._client.request(
            "POST", OPPORTUNITIES, exchanges, document=_document(attrs, set_links)
        )
        written(response, f"POST {OPPORTUNITIES}")
        opportunity_id = resource_id(response.data)
        if opportunity_id is None:
            # The next attempt looks the opportunity up by its customId before creating.
            raise RetriableError(
                "Outreach created no readable opportunity",
                reason=WINDOW_REASON,
                status=response.status,
            )
        return opportunity_id

    async def _update_known(
        self, memory: OpportunityMemory, sent: dict[str, Any], exchanges: ExchangeRecorder
    ) -> tuple[int | None, str]:
        """PATCH what differs from what was last sent; ``(None, _)`` when it is gone."""
        before_attrs = memory.sent.get("attributes", {})
        before_links = memory.sent.get("links", {})
        changes = {k: v for k, v in sent["attributes"].items() if before_attrs.get(k) != v}
        relinks = {k: v for k, v in sent["links"].items() if before_links.get(k) != v}
        if not changes and not relinks:
            return memory.opportunity_id, "unchanged"
        path = f"{OPPORTUNITIES}/{memory.opportunity_id}"
        document = _document(changes, relinks, memory.opportunity_id)
        response = await self._client.request("PATCH", path, exchanges, document=document)
        if response.verdict is Verdict.NOT_FOUND:
            return None, "gone"
        written(response, f"PATCH {OPPORTUNITIES}")
        return memory.opportunity_id, "updated"

    async def _update_found(
        self,
        found: dict[str, Any],
        opportunity_id: int,
        attrs: dict[str, Any],
        links: dict[str, int | None],
        exchanges: ExchangeRecorder,
    ) -> str:
        remote = attributes(found)
        changes = {k: v for k, v in attrs.items() if remote.get(k) != v}
        relinks = {k: v for k, v in links.items() if related_id(found, k) != v}
        if not changes and not relinks:
            return "unchanged"
        path = f"{OPPORTUNITIES}/{opportunity_id}"
        document = _document(changes, relinks, opportunity_id)
        response = await self._client.request("PATCH", path, exchanges, document=document)
        written(response, f"PATCH {OPPORTUNITIES}")
        return "updated"
