"""The roles of one opportunity: one ``opportunityProspectRole`` per (opportunity, prospect,
role), kept in step with the source's contact list without ever doubling one.

Every role leadgate creates is remembered at once (``opportunity.role``). A wanted role that is not
remembered is first looked for among the opportunity's roles in Outreach (one
``GET /opportunityProspectRoles?filter[opportunity][id]=`` per write), so a crash between a POST
and remembering it is rebuilt by adoption, not by a second POST; a brand-new opportunity has no
roles, so its write skips that look. ``primary`` follows the source. A role leadgate made (or
adopted) that the source no longer lists is deleted; roles someone added in Outreach are theirs
and are left alone.
"""

from __future__ import annotations

from leadgate.domain.opportunity import OpportunityContact
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import WINDOW_REASON, OutreachClient, Response
from leadgate.outreach.jsonapi import attributes, collect, related_id, resource_id
from leadgate.store.opportunities import OpportunityMemories, RoleMemory, role_key

ROLES = "/api/v2/opportunityProspectRoles"


def written(response: Response, what: str) -> None:
    """Raise a retriable error unless the write went through."""
    if response.verdict in (Verdict.OK, Verdict.NO_CHANGE):
        return
    raise RetriableError(
        f"{what}: {response.message or response.verdict}",
        reason=WINDOW_REASON,
        status=response.status,
    )


class RoleSync:
    """Brings one opportunity's roles in line with its contacts."""

    def __init__(
        self, client: OutreachClient, memories: OpportunityMemories, *, max_pages: int = 5
    ) -> None:
        self._client = client
        self._memories = memories
        self._max_pages = max_pages

    async def sync(
        self,
        opportunity_id: int,
        contacts: tuple[OpportunityContact, ...],
        prospect_ids: dict[str, int],
        fresh: bool,
        exchanges: ExchangeRecorder,
    ) -> bool:
        """Create missing roles, fix ``primary``, delete roles the source dropped; True when
        anything was written."""
        remembered = {role.key: role for role in await self._memories.roles(opportunity_id)}
        wanted = {
            role_key(opportunity_id, prospect_ids[c.email], c.role): (prospect_ids[c.email], c)
            for c in contacts
        }
        missing = [key for key in wanted if key not in remembered]
        if missing and not fresh:
            # Roles we may have created before a crash, or that someone else made: adopt them.
            for found in await self._remote_roles(opportunity_id, exchanges):
                if found.key in wanted and found.key not in remembered:
                    remembered[found.key] = found
                    await self._memories.remember_role(found)
        wrote = False
        for key, (prospect_id, contact) in wanted.items():
            role = remembered.get(key)
            if role is not None and role.primary == contact.primary:
                continue
            if role is None or not await self._patch_role(role, contact.primary, exchanges):
                # New, or deleted in Outreach since we made it: (re)create it.
                role_id = await self._create_role(opportunity_id, prospect_id, contact, exchanges)
            else:
                role_id = role.role_id
            await self._memories.remember_role(
                RoleMemory(
                    opportunity_id, prospect_id, contact.role or "", role_id, contact.primary
                )
            )
            wrote = True
        dropped = [role for key, role in remembered.items() if key not in wanted]
        for role in dropped:
            response = await self._client.request("DELETE", f"{ROLES}/{role.role_id}", exchanges)
            if response.verdict is not Verdict.NOT_FOUND:
                written(response, f"DELETE {ROLES}")
            wrote = True
        await self._memories.forget_roles(dropped)
        return wrote

    async def _remote_roles(
        self, opportunity_id: int, exchanges: ExchangeRecorder
    ) -> list[RoleMemory]:
        params = {
            "filter[opportunity][id]": str(opportunity_id),
            "page[size]": "1000",
            "count": "false",
        }
        found = await collect(self._client, ROLES, params, exchanges, max_pages=self._max_pages)
        roles: list[RoleMemory] = []
        for item in found:
            role_id, prospect_id = resource_id(item), related_id(item, "prospect")
            if role_id is None or prospect_id is None:
                continue
            if related_id(item, "opportunity") != opportunity_id:
                continue
            found_attributes = attributes(item)
            name = found_attributes.get("role")
            roles.append(
                RoleMemory(
                    opportunity_id,
                    prospect_id,
                    name if isinstance(name, str) else "",
                    role_id,
                    found_attributes.get("primary") is True,
                )
            )
        return sorted(roles, key=lambda role: role.role_id)

    async def _create_role(
        self,
        opportunity_id: int,
        prospect_id: int,
        contact: OpportunityContact,
        exchanges: ExchangeRecorder,
    ) -> int:
        document = {
            "data": {
                "type": "opportunityProspectRole",
                "attributes": {"role": contact.role, "primary": contact.primary},
                "relationships": {
                    "opportunity": {"data": {"type": "opportunity", "id": opportunity_id}},
                    "prospect": {"data": {"type": "prospect", "id": prospect_id}},
                },
            }
        }
        response = await self._client.request("POST", ROLES, exchanges, document=document)
        written(response, f"POST {ROLES}")
        role_id = resource_id(response.data)
        if role_id is None:
            raise RetriableError(
                "Outreach created no readable opportunityProspectRole",
                reason=WINDOW_REASON,
                status=response.status,
            )
        return role_id

    async def _patch_role(
        self, role: RoleMemory, primary: bool, exchanges: ExchangeRecorder
    ) -> bool:
        """Set ``primary``; False when the role no longer exists in Outreach."""
        document = {
            "data": {
                "type": "opportunityProspectRole",
                "id": role.role_id,
                "attributes": {"primary": primary},
            }
        }
        path = f"{ROLES}/{role.role_id}"
        response = await self._client.request("PATCH", path, exchanges, document=document)
        if response.verdict is Verdict.NOT_FOUND:
            return False
        written(response, f"PATCH {ROLES}")
        return True
