"""Choosing the rule of an event (the first of its rules whose ``when`` holds) and the routing
plan it makes.

``select`` returns the rule with its ``condition`` trace stage, or the drop: ``condition_not_met``
naming each rule's failed test, or ``unmapped_event`` when the rule that applies is a ``drop``.
``route`` turns the selected rule's ``owner``, ``sequence`` and ``stage`` into the lead's
``RoutingPlan``. Conditions and owner fields read ``field_data``: the event's ``properties`` and
``context`` and the profile's ``traits`` after this event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadgate.domain.events import EventHead
from leadgate.domain.outcome import Drop
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.routing import RoutingPlan
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.conditions import check, describe
from leadgate.pipeline.presets import EventRule, rule_label
from leadgate.pipeline.routing import plan_for


def field_data(
    head: EventHead, properties: dict[str, Any], traits: dict[str, Any]
) -> dict[str, Any]:
    """What conditions and owner fields read: ``properties``, ``traits`` (the profile after this
    event) and ``context``."""
    context = head.data.get("context")
    return {
        "properties": properties,
        "traits": traits,
        "context": context if isinstance(context, dict) else {},
    }


def choose(
    rules: tuple[EventRule, ...], data: dict[str, Any], event: str
) -> tuple[int, EventRule, str | None] | Drop:
    """The first rule whose ``when`` holds (with its condition text), or the drop saying why
    none does."""
    failures: list[str] = []
    for index, rule in enumerate(rules):
        if rule.when is None:
            return index, rule, None
        verdict = check(rule.when, data)
        if verdict.holds:
            return index, rule, describe(rule.when)
        label = rule_label(event, rules, index)
        failures.append(verdict.failed if len(rules) == 1 else f"{label!r}: {verdict.failed}")
    return Drop(DropReason.CONDITION_NOT_MET, "no rule applies: " + "; ".join(failures))


@dataclass(slots=True)  # not frozen: see the docstring
class Selected:
    """The rule that applies to an event, and what the trace says about the choice.

    Never changed once made, but not ``frozen``: a frozen dataclass sets each field through
    ``object.__setattr__``, four times the cost of this one for every lead event (bench P1).
    """

    index: int
    rule: EventRule
    condition: str | None  # the ``when`` that held, as text
    stage: StageRecord | None  # the ``condition`` stage (None for a lone unconditional rule)
    data: dict[str, Any]


def select(
    rules: tuple[EventRule, ...],
    head: EventHead,
    properties: dict[str, Any],
    traits: dict[str, Any],
) -> Selected | Drop:
    """The rule that sends this event, or why none does."""
    if len(rules) == 1 and rules[0].when is None:
        return Selected(0, rules[0], None, None, {})
    data = field_data(head, properties, traits)
    chosen = choose(rules, data, head.name or head.type)
    if isinstance(chosen, Drop):
        return chosen
    index, rule, condition = chosen
    label = rule_label(head.name or head.type, rules, index)
    why = f"rule {label!r}: " + (condition or "no condition (the last rule)")
    if rule.action == "drop":
        return Drop(DropReason.UNMAPPED_EVENT, f"{why}; the rule drops the event")
    stage = StageRecord("condition", StageStatus.PASS, detail=why)
    return Selected(index, rule, condition, stage, data)


def route(
    preset: str,
    rules: tuple[EventRule, ...],
    selected: Selected,
    head: EventHead,
    properties: dict[str, Any],
    traits: dict[str, Any],
) -> RoutingPlan | None:
    """The routing plan of the selected rule, or None when it routes nothing."""
    rule = selected.rule
    if rule.owner is None and rule.sequence is None and rule.stage is None:
        return None
    return plan_for(
        preset=preset,
        rule=rule_label(head.name or head.type, rules, selected.index),
        condition=selected.condition,
        owner=rule.owner,
        update_owner=rule.update_owner,
        sequence=rule.sequence,
        stage=rule.stage,
        update_stage=rule.update_stage,
        data=selected.data or field_data(head, properties, traits),
    )


def routing_pass(plan: RoutingPlan) -> StageRecord:
    """The processor's ``routing`` trace stage."""
    return StageRecord("routing", StageStatus.PASS, detail=plan.describe())
