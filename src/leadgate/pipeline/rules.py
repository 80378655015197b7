"""Choosing the rule of an event: the first of its rules whose ``when`` holds.

``field_data`` is what conditions and owner fields read; ``choose`` returns the rule (with its
index and condition text) or the ``condition_not_met`` drop naming each rule's failed test.
"""

from __future__ import annotations

from typing import Any

from leadgate.domain.events import EventHead
from leadgate.domain.outcome import Drop
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.conditions import check, describe
from leadgate.pipeline.presets import EventRule, rule_label


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
