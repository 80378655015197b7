"""Routing plans: how coalesced intents' plans merge, and how a plan reads in a trace."""

from __future__ import annotations

from leadgate.domain.routing import OwnerLink, RoutingPlan, SequenceTarget, merge_plans

ALICE = (OwnerLink(via="user", user="alice"),)
BOB = (OwnerLink(via="user", user="bob"),)
DEMO = SequenceTarget(name="Inbound Demo Request")
PAID = RoutingPlan(rule="paid", owner=ALICE, sequence=DEMO, stage="Inbound")
FREE = RoutingPlan(rule="free", owner=BOB, stage="Cold Lead")


def test_the_earliest_plan_routes_a_coalesced_lead() -> None:
    """Paid then free keeps the paid plan; free then paid does not enrol (enrol: new would
    skip the prospect the free request created)."""
    assert merge_plans([PAID, FREE]) == PAID
    assert merge_plans([FREE, PAID]) == FREE
    assert merge_plans([None, FREE, None]) == FREE
    assert merge_plans([None, None]) is None


def test_later_plans_apply_what_they_may_change_on_an_existing_prospect() -> None:
    """update_owner, update_stage and an enrol: idle sequence of a later plan apply."""
    later = RoutingPlan(
        rule="later",
        owner=ALICE,
        update_owner=True,
        stage="Qualified",
        update_stage=True,
        sequence=DEMO.model_copy(update={"enrol": "idle"}),
    )
    merged = merge_plans([FREE, later])
    assert merged is not None
    assert (merged.owner, merged.stage, merged.sequence) == (ALICE, "Qualified", later.sequence)
    assert merged.rule == "free"


def test_describe_names_each_decision() -> None:
    """The processor's routing trace line names rule, owner chain, stage and sequence."""
    assert PAID.describe() == (
        "rule paid; owner: user alice; stage 'Inbound'; sequence 'Inbound Demo Request' from "
        "the owner's mailbox (new prospects only)"
    )
