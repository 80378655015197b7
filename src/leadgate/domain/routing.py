"""The routing plan: who owns a lead, which sequence it joins and which stage it gets.

The processor builds a plan from the preset rule that applied (``pipeline.routing``) and puts it
on the lead intent; the delivery side (``outreach.routing.Router``) carries it out against Outreach
after the prospect write. The plan holds everything the router needs and nothing it must read
from the event again: an owner taken from a field of the event is already read into
``OwnerLink.user`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from leadgate.domain.trace import StageRecord

_PLAN = ConfigDict(frozen=True, extra="forbid")

OwnerVia = Literal["user", "field", "rotation"]
EnrolPolicy = Literal["new", "idle"]


class OwnerLink(BaseModel):
    """One link of an owner chain; the first link that resolves to a known user wins.

    ``user``: a literal Outreach user (email or username). ``field``: the value of an event or
    profile field (``user`` is that value, None when the field was empty). ``rotation``: round
    robin over ``users``, its position kept in the state store under ``rotation``.
    """

    model_config = _PLAN

    via: OwnerVia
    user: str | None = None
    field: str | None = None
    users: tuple[str, ...] = ()
    rotation: str | None = None

    def describe(self) -> str:
        """How a person reads this link in a trace."""
        if self.via == "user":
            return f"user {self.user}"
        if self.via == "field":
            return f"field {self.field}" + ("" if self.user else " (empty)")
        return f"rotation over {', '.join(self.users)}"


class SequenceTarget(BaseModel):
    """Enrol the prospect in a sequence (by name or id) from a mailbox.

    ``mailbox`` None sends from the owner's mailbox, else from the mailbox with that email.
    ``enrol``: ``new`` enrols only prospects this lead created; ``idle`` also enrols existing
    prospects that are not active in any sequence.
    """

    model_config = _PLAN

    name: str | None = None
    id: int | None = None
    mailbox: str | None = None
    enrol: EnrolPolicy = "new"

    def describe(self) -> str:
        """How a person reads the target in a trace."""
        which = repr(self.name) if self.name is not None else f"#{self.id}"
        mailbox = "the owner's mailbox" if self.mailbox is None else f"mailbox {self.mailbox}"
        policy = "new prospects only" if self.enrol == "new" else "new or idle prospects"
        return f"sequence {which} from {mailbox} ({policy})"


class RoutingPlan(BaseModel):
    """What one preset rule asks of Outreach beyond the prospect's attributes and tags."""

    model_config = _PLAN

    rule: str
    condition: str | None = None
    owner: tuple[OwnerLink, ...] = ()
    update_owner: bool = False
    sequence: SequenceTarget | None = None
    stage: str | None = None
    update_stage: bool = False

    def describe(self) -> str:
        """One line for the processor's trace."""
        parts = [f"rule {self.rule}"]
        if self.owner:
            parts.append("owner: " + " -> ".join(link.describe() for link in self.owner))
        if self.stage is not None:
            parts.append(f"stage {self.stage!r}")
        if self.sequence is not None:
            parts.append(self.sequence.describe())
        return "; ".join(parts)

    @property
    def empty(self) -> bool:
        """True when the rule routes nothing (no owner, sequence or stage)."""
        return not self.owner and self.sequence is None and self.stage is None


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """What routing did to one prospect, with the trace stages that explain each decision
    (``route``: the rule; ``owner``; ``prospect stage``; ``sequence``)."""

    owner_id: int | None = None
    stage_id: int | None = None
    enrolment: str | None = None  # enrolled | already_enrolled | skipped_policy
    sequence_state_id: int | None = None
    stages: tuple[StageRecord, ...] = ()

    def notes(self) -> tuple[str, ...]:
        """The stages as one-line notes (``owner: owner alice (user 2) by rotation ...``)."""
        return tuple(f"{stage.stage}: {stage.detail}" for stage in self.stages if stage.detail)


def merge_plans(plans: list[RoutingPlan | None]) -> RoutingPlan | None:
    """The plan of intents coalesced into one upsert (in arrival order), as if they had been
    sent one by one: the earliest plan routes the prospect; a later plan changes only what a
    rule may change on an existing prospect (its owner with ``update_owner``, its stage with
    ``update_stage``, and a sequence with ``enrol: idle``; ``enrol: new`` would be skipped).
    """
    present = [plan for plan in plans if plan is not None and not plan.empty]
    if not present:
        return None
    merged = present[0]
    for later in present[1:]:
        update: dict[str, object] = {}
        if later.update_owner and later.owner:
            update.update(owner=later.owner, update_owner=True)
        if later.update_stage and later.stage is not None:
            update.update(stage=later.stage, update_stage=True)
        if (
            merged.sequence is None
            and later.sequence is not None
            and later.sequence.enrol == "idle"
        ):
            update["sequence"] = later.sequence
        if update:
            merged = merged.model_copy(update=update)
    return merged
