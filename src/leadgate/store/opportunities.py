"""What leadgate remembers about the opportunities it writes (collections ``opportunity`` and
``opportunity.role``).

``opportunity``: ``<system>:<sourceId>`` → the Outreach opportunity id, what was last sent
(attributes and relationship ids, so an update sends only what changed and an unchanged record
costs no request) and the prospect id of each contact's email. ``opportunity.role``:
``<opportunityId>:<prospectId>:<role>`` → the role's Outreach id and its ``primary`` flag; the
roles of one opportunity are found by the prefix ``<opportunityId>:``.

This is memory, not truth: the opportunity carries its source id in Outreach (``customId``) and
its roles can be listed, so a lost memory is rebuilt by a lookup, never by a second create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadgate.store.base import StateStore

OPPORTUNITY = "opportunity"
ROLE = "opportunity.role"
_MAX_ROLES = 1000


@dataclass(frozen=True, slots=True)
class OpportunityMemory:
    """One source opportunity as leadgate last wrote it."""

    opportunity_id: int
    sent: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)  # normalised email -> prospect id

    def to_doc(self) -> dict[str, Any]:
        return {"opportunityId": self.opportunity_id, "sent": self.sent, "contacts": self.contacts}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OpportunityMemory | None:
        """None for a document this code cannot read (then the opportunity is looked up)."""
        opportunity_id = doc.get("opportunityId")
        if not isinstance(opportunity_id, int):
            return None
        sent = doc.get("sent")
        contacts = doc.get("contacts")
        return cls(
            opportunity_id,
            sent if isinstance(sent, dict) else {},
            {k: v for k, v in contacts.items() if isinstance(v, int)}
            if isinstance(contacts, dict)
            else {},
        )


@dataclass(frozen=True, slots=True)
class RoleMemory:
    """One opportunityProspectRole leadgate created (or found and adopted)."""

    opportunity_id: int
    prospect_id: int
    role: str  # "" for a role without a name
    role_id: int
    primary: bool = False

    @property
    def key(self) -> str:
        return role_key(self.opportunity_id, self.prospect_id, self.role)


def role_key(opportunity_id: int, prospect_id: int, role: str | None) -> str:
    """``<opportunityId>:<prospectId>:<role>``."""
    return f"{opportunity_id}:{prospect_id}:{role or ''}"


class OpportunityMemories:
    """The typed face of the two collections."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def get(self, source_key: str) -> OpportunityMemory | None:
        """What was written for ``<system>:<sourceId>``, if anything."""
        doc = (await self._store.get_docs(OPPORTUNITY, [source_key])).get(source_key)
        return OpportunityMemory.from_doc(doc) if doc is not None else None

    async def put(self, source_key: str, memory: OpportunityMemory) -> None:
        await self._store.put_docs(OPPORTUNITY, {source_key: memory.to_doc()})

    async def forget(self, source_key: str) -> None:
        """The opportunity is gone from Outreach (404): look it up again next time."""
        await self._store.delete_docs(OPPORTUNITY, [source_key])

    async def roles(self, opportunity_id: int) -> list[RoleMemory]:
        """Every remembered role of one opportunity."""
        found = await self._store.scan_docs(ROLE, prefix=f"{opportunity_id}:", limit=_MAX_ROLES)
        roles: list[RoleMemory] = []
        for key, doc in found:
            _, prospect, role = key.split(":", 2)
            role_id = doc.get("roleId")
            if prospect.isdigit() and isinstance(role_id, int):
                primary = bool(doc.get("primary", False))
                roles.append(RoleMemory(opportunity_id, int(prospect), role, role_id, primary))
        return roles

    async def remember_role(self, role: RoleMemory) -> None:
        await self._store.put_docs(
            ROLE, {role.key: {"roleId": role.role_id, "primary": role.primary}}
        )

    async def forget_roles(self, roles: list[RoleMemory]) -> None:
        if roles:
            await self._store.delete_docs(ROLE, [role.key for role in roles])
