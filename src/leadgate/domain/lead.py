"""The lead intent: what the processor hands to a delivery worker on ``leadgate.delivery.outreach``.

It carries everything the worker needs and nothing it must look up again: the normalised email
(also the record key), the Outreach prospect attributes the preset mapped, the tags, the account
hint, the consent snapshot (the worker re-checks consent against the latest profile), the
identities whose profile holds that consent, and the messageIds it came from (so traces join up
and replays stay idempotent).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from leadgate.domain.opportunity import OpportunityPlan, SourceRef
from leadgate.domain.routing import RoutingPlan

# 2: ``kind`` (and the optional sub-objects of other kinds). Version 1 records decode as
# ``upsert_prospect`` intents.
LEAD_SCHEMA_VERSION = 2

LeadKind = Literal["upsert_prospect", "consent_withdrawn", "upsert_opportunity"]


class AccountHint(BaseModel):
    """What identifies the prospect's company: a corporate domain, and a name if known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str | None = None
    name: str | None = None


WithdrawalAction = Literal["opt_out", "finish_sequences", "both"]


class Withdrawal(BaseModel):
    """A ``consent_withdrawn`` intent's details: which required categories the person withdrew,
    and what the preset asks of Outreach (``on_consent_withdrawn``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: tuple[str, ...]
    action: WithdrawalAction = "both"

    @property
    def opts_out(self) -> bool:
        """Set the prospect's ``emailsOptStatus`` to ``opted_out``."""
        return self.action in ("opt_out", "both")

    @property
    def finishes_sequences(self) -> bool:
        """Finish the sequenceStates leadgate enrolled the prospect in."""
        return self.action in ("finish_sequences", "both")


class LeadIntent(BaseModel):
    """One write to Outreach for one person; ``kind`` names the write (``outreach/dispatch.py``).

    Only ``upsert_prospect`` intents of one key are coalesced; any other kind is a barrier in
    its key's order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = LEAD_SCHEMA_VERSION
    kind: LeadKind = "upsert_prospect"
    email: str
    attributes: dict[str, Any]
    tags: tuple[str, ...] = ()
    account: AccountHint | None = None
    consent: dict[str, bool] = Field(default_factory=dict)
    required_consent: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    event: str = ""
    preset: str = ""
    received_at: str | None = None
    routing: RoutingPlan | None = None  # owner, sequence, stage (ROUTING; see domain/routing.py)
    withdrawal: Withdrawal | None = None  # kind consent_withdrawn (PRIVACY; outreach/withdrawal.py)
    # CRM records: the record behind the intent (for its outcome), what to do with a prospect
    # found by email that leadgate did not create (None: update it, reported as updated or
    # unchanged), and the opportunity of an upsert_opportunity.
    source: SourceRef | None = None
    on_existing: Literal["update", "skip"] | None = None
    opportunity: OpportunityPlan | None = None

    @property
    def key(self) -> str:
        """The record key on the delivery topic: the email, or for an opportunity
        ``opportunity:<system>:<sourceId>`` (its records stay in order on one partition)."""
        if self.opportunity is not None and self.source is not None:
            return f"opportunity:{self.source.system}:{self.opportunity.source_id}"
        return self.email

    def document(self) -> dict[str, Any]:
        """The JSON:API prospect document for a create (attributes plus tags); for a withdrawal,
        the opt-out it writes (if any); for an opportunity, its preview
        (``OpportunityPlan.preview``)."""
        if self.withdrawal is not None:
            opt_out = {"emailsOptStatus": "opted_out"} if self.withdrawal.opts_out else {}
            return {"data": {"type": "prospect", "attributes": opt_out}}
        if self.opportunity is not None and self.source is not None:
            return self.opportunity.preview(self.source.system)
        attributes = dict(self.attributes)
        if self.tags:
            attributes["tags"] = list(self.tags)
        return {"data": {"type": "prospect", "attributes": attributes}}

    def to_bytes(self) -> bytes:
        """Serialise for Kafka."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadIntent:
        """Parse a Kafka record value; raises ``ValueError`` on anything malformed."""
        return cls.model_validate(orjson.loads(raw))
