"""CRM records: where a record came from (``SourceRef``) and an opportunity as leadgate sends it.

A CRM posts an opportunity as a ``track`` event ``Opportunity Updated`` whose
``properties.opportunity`` is ``{id, name, amount, currency, closeDate, stage, owner,
accountDomain, contacts: [{email, role, primary}]}`` (docs/presets.md, "CRM records"); the
pipeline checks it (``pipeline/crm.py``) and puts the checked values here, on the lead intent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RecordKind = Literal["person", "opportunity"]


class SourceRef(BaseModel):
    """The source record behind an intent: its system (the write key's source name, or the
    ``--source`` of ``leadgate send``), what kind of record it is, and its id there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str
    kind: RecordKind
    id: str

    @property
    def key(self) -> str:
        """``<system>:<kind>:<id>``: the outcome's record key on ``leadgate.outcomes``."""
        return f"{self.system}:{self.kind}:{self.id}"


class OpportunityContact(BaseModel):
    """A person related to an opportunity, with the role they play in it (one entry per role)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str  # normalised
    role: str | None = None
    primary: bool = False


class OpportunityPlan(BaseModel):
    """An opportunity as Outreach should hold it, keyed by its source id.

    ``amount`` is the exact decimal as text (Outreach keeps an integer ``amount`` and a text
    ``amountPrecise``); ``close_date`` is ISO-8601 UTC with milliseconds; ``stage`` is an
    opportunity stage name and ``owner`` an Outreach username, both resolved at delivery.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_id: str
    name: str
    amount: str | None = None
    currency: str | None = None
    close_date: str | None = None
    stage: str | None = None
    owner: str | None = None
    account_domain: str | None = None
    contacts: tuple[OpportunityContact, ...] = ()

    def custom_id(self, system: str) -> str:
        """What the opportunity's ``customId`` holds: ``<system>:<sourceId>`` (Outreach keeps
        255 characters); the lookup that rebuilds a lost memory filters on it."""
        return f"{system}:{self.source_id}"[:255]

    def attributes(self, system: str) -> dict[str, Any]:
        """The Outreach attributes of the opportunity (its relationships are resolved later)."""
        attrs: dict[str, Any] = {"name": self.name, "customId": self.custom_id(system)}
        if self.amount is not None:
            attrs["amountPrecise"] = self.amount
            attrs["amount"] = round(float(self.amount))  # Outreach's amount is an integer
        if self.currency is not None:
            attrs["currencyType"] = self.currency
        if self.close_date is not None:
            attrs["closeDate"] = self.close_date
        return attrs

    def preview(self, system: str) -> dict[str, Any]:
        """What ``presets try`` and the trace show: the attributes, and the names the delivery
        resolves to ids (stage, owner, account) and the roles it links."""
        return {
            "data": {
                "type": "opportunity",
                "attributes": self.attributes(system),
                "resolves": {
                    "opportunityStage": self.stage,
                    "owner": self.owner,
                    "account": self.account_domain,
                },
                "roles": [
                    {"role": c.role, "primary": c.primary, "prospect": c.email}
                    for c in self.contacts
                ],
            }
        }
