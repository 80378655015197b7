"""The router: carries out a lead's ``RoutingPlan`` (owner, stage, sequence) around the prospect
write, at the lowest request count.

The upserter asks a ``Route`` (one per lead and attempt) for relationships at two moments:

- ``create_links()`` right before it POSTs a new prospect: owner (the chain, rotations advance
  here and only here) and stage go *inside* the create document, so a new routed lead costs
  lookup + create + enrol (user, stage and sequence look-ups are cached). The prospect is first
  marked as this lead's new prospect with the owner chosen (``NewProspects``), so a retried
  create keeps that owner (a rotation advances once per prospect), and a redelivery after a
  crash between create and enrolment still enrols it, from the same owner's mailbox;
- ``update_links()`` for an existing prospect: the owner only when the rule says
  ``update_owner`` (never by rotation), the stage only with ``update_stage``. They join the
  upserter's no-op digest, so a lead that changes nothing still costs no request.

After the write, ``finish(prospect_id, created)`` enrols (``outreach/enrol.py``) and returns the
``RoutingOutcome`` with one trace line per decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadgate.domain.lead import LeadIntent
from leadgate.domain.reasons import StageStatus
from leadgate.domain.routing import RoutingOutcome, RoutingPlan
from leadgate.domain.trace import ExchangeRecorder, StageRecord
from leadgate.observability.metrics import ROUTING_STAGES
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.directory import Directory, User
from leadgate.outreach.enrol import Enroller
from leadgate.outreach.jsonapi import related_id
from leadgate.outreach.owners import OwnerChoice, OwnerResolver
from leadgate.store.base import StateStore
from leadgate.store.routing import Enrolments, NewProspects, Rotations

PROSPECTS = "/api/v2/prospects"
Links = dict[str, tuple[str, int]]  # relationship name -> (JSON:API type, id)


class Router:
    """Shared by every lead of one upserter (one client, one store)."""

    def __init__(self, client: OutreachClient, store: StateStore) -> None:
        self.client = client
        self.directory = Directory(client, store)
        self.owners = OwnerResolver(self.directory, Rotations(store))
        self.enroller = Enroller(client, self.directory, Enrolments(store))
        self.new_prospects = NewProspects(store)

    def start(self, lead: LeadIntent, exchanges: ExchangeRecorder) -> Route | None:
        """The route of one delivery attempt, or None when the lead has no routing plan."""
        if lead.routing is None or lead.routing.empty:
            return None
        return Route(self, lead, lead.routing, exchanges)


@dataclass(slots=True)
class Route:
    """One lead's routing during one attempt."""

    router: Router
    lead: LeadIntent
    plan: RoutingPlan
    exchanges: ExchangeRecorder
    owner: User | None = None
    stage_id: int | None = None
    stages: list[StageRecord] = field(default_factory=list)
    _created_links: bool = False

    async def create_links(self) -> Links:
        """Owner and stage of a prospect about to be created. The owner an earlier attempt of
        this lead chose (a create that failed or went unanswered) is kept, so a retry neither
        advances a rotation again nor enrols from another rep's mailbox."""
        links: Links = {}
        if self.plan.owner:
            earlier = await self.router.new_prospects.marked(self.lead.email)
            chosen = earlier.get("ownerId") if earlier is not None else None
            if isinstance(chosen, int):
                self.owner = User(chosen)
                detail = f"owner user {chosen}, as an earlier attempt of this lead chose"
                self.stages.append(StageRecord("owner", StageStatus.PASS, detail=detail))
            else:
                choice = await self.router.owners.choose(self.plan.owner, self.exchanges, new=True)
                self._owner_decided(choice)
            if self.owner is not None:
                links["owner"] = ("user", self.owner.id)
        if self.plan.stage is not None:
            await self._stage(links)
        if self.plan.sequence is not None or self.plan.owner:
            await self.router.new_prospects.mark(
                self.lead.email, self.owner.id if self.owner else None
            )
        self._created_links = True
        return links

    async def update_links(self) -> Links:
        """Owner and stage to set on an existing prospect (only what the rule allows)."""
        links: Links = {}
        if self.plan.update_owner and self.plan.owner:
            choice = await self.router.owners.choose(self.plan.owner, self.exchanges, new=False)
            if choice.user is not None:
                self.owner = choice.user
                links["owner"] = ("user", choice.user.id)
        if self.plan.update_stage and self.plan.stage is not None:
            stage = await self.router.directory.stage(self.plan.stage, self.exchanges)
            if stage is not None:
                links["stage"] = ("stage", stage.id)
        return links

    async def finish(self, prospect_id: int, created: bool) -> RoutingOutcome:
        """After the prospect write: explain owner and stage, enrol, and say what happened."""
        if not created:
            self._explain_update()
        mark = None
        if self.plan.sequence is not None and not created:
            mark = await self.router.new_prospects.marked(self.lead.email)
        enrolment = state_id = None
        if self.plan.sequence is not None:
            new = created or mark is not None
            known = self.owner
            if known is None and mark is not None and isinstance(mark.get("ownerId"), int):
                known = User(int(mark["ownerId"]))

            async def owner() -> User | None:
                # A new prospect has the owner we gave it (or none); an existing one, Outreach's.
                if known is not None or new:
                    return known
                return await self._current_owner(prospect_id)

            outcome = await self.router.enroller.enrol(
                prospect_id, self.plan.sequence, owner, new=new, exchanges=self.exchanges
            )
            enrolment, state_id = outcome.action, outcome.sequence_state_id
            status = StageStatus.PASS if outcome.action != "skipped_policy" else StageStatus.WARN
            self.stages.append(StageRecord("sequence", status, outcome.action, outcome.detail))
            if new:
                await self.router.new_prospects.clear(self.lead.email)
        elif self._created_links and self.plan.owner:
            await self.router.new_prospects.clear(self.lead.email)
        return RoutingOutcome(
            self.owner.id if self.owner else None,
            self.stage_id,
            enrolment,
            state_id,
            (self._matched(), *self.stages),
        )

    def _matched(self) -> StageRecord:
        why = f"rule {self.plan.rule!r}"
        if self.plan.condition:
            why += f": {self.plan.condition}"
        return StageRecord("route", StageStatus.PASS, detail=why)

    def _owner_decided(self, choice: OwnerChoice) -> None:
        self.owner = choice.user
        status = StageStatus.PASS if choice.user is not None else StageStatus.WARN
        reason = None if choice.user is not None else "unknown_owner"
        self.stages.append(StageRecord("owner", status, reason, choice.describe()))

    async def _stage(self, links: Links) -> None:
        assert self.plan.stage is not None
        stage = await self.router.directory.stage(self.plan.stage, self.exchanges)
        if stage is None:
            ROUTING_STAGES.labels(result="unknown_stage").inc()
            self.stages.append(
                StageRecord(
                    "prospect stage",
                    StageStatus.WARN,
                    "unknown_stage",
                    f"no Outreach stage {self.plan.stage!r}; left unset",
                )
            )
            return
        ROUTING_STAGES.labels(result="set").inc()
        self.stage_id = stage.id
        links["stage"] = ("stage", stage.id)
        self.stages.append(
            StageRecord("prospect stage", StageStatus.PASS, detail=f"stage {stage.name!r}")
        )

    def _explain_update(self) -> None:
        if self.plan.owner:
            if self.plan.update_owner and self.owner is not None:
                detail = f"owner {self.owner.name} (update_owner)"
            else:
                detail = "existing prospect: owner kept (the rule does not re-assign)"
            self.stages.append(StageRecord("owner", StageStatus.PASS, detail=detail))
        if self.plan.stage is not None:
            detail = (
                f"stage {self.plan.stage!r} (update_stage)"
                if self.plan.update_stage
                else "existing prospect: stage kept"
            )
            self.stages.append(StageRecord("prospect stage", StageStatus.PASS, detail=detail))

    async def _current_owner(self, prospect_id: int) -> User | None:
        """The owner Outreach has for an existing prospect (its mailbox sends the sequence)."""
        response = await self.router.client.request(
            "GET", f"{PROSPECTS}/{prospect_id}", self.exchanges
        )
        owner_id = related_id(response.data, "owner")
        return None if owner_id is None else User(owner_id)
