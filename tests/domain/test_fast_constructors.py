"""The hot path's fast constructors build exactly what the NamedTuples' own constructors build,
so a field added or reordered in one place cannot silently shift the values of the others."""

from __future__ import annotations

from typing import Any, cast

from leadgate.domain.events import EventHead, Fields, HeadFields, fast_fields, fast_head
from leadgate.domain.outcome import Outcome, drop_outcome, fast_outcome
from leadgate.domain.reasons import DropReason


def _distinct(fields: tuple[str, ...]) -> dict[str, Any]:
    """A distinct value per field (its own name), so any swap of two fields shows."""
    return {name: f"<{name}>" for name in fields}


def test_fast_outcome_equals_outcome_field_by_field() -> None:
    """fast_outcome(**f) and Outcome(**f) agree on every field."""
    values = _distinct(Outcome._fields)
    values["drop"] = DropReason.UNMAPPED_EVENT
    assert fast_outcome(**values) == Outcome(**values)
    assert fast_outcome(**values)._asdict() == values


def test_fast_head_and_fast_fields_equal_their_namedtuples() -> None:
    """fast_head and fast_fields take their fields in the NamedTuples' own order."""
    head = _distinct(EventHead._fields)
    fields_in_order = cast("HeadFields", tuple(head.values()))
    assert fast_head(fields_in_order) == EventHead(**head)
    assert fast_head(fields_in_order)._asdict() == head
    assert type(fast_head(fields_in_order)) is EventHead
    fields = _distinct(Fields._fields)
    assert fast_fields(*fields.values())._asdict() == fields


def test_drop_outcome_takes_the_heads_fields() -> None:
    """drop_outcome(head, ...) is the Outcome of the head's own fields and no values; its lead is
    only a withdrawal intent passed to it."""
    head = fast_head(cast("HeadFields", tuple(_distinct(EventHead._fields).values())))
    stages = ("<stages>",)
    built = drop_outcome(head, DropReason.UNMAPPED_EVENT, "<detail>", stages, None)  # type: ignore[arg-type]
    assert built == Outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        drop=DropReason.UNMAPPED_EVENT,
        detail="<detail>",
        stages=stages,  # type: ignore[arg-type]
        received_at=head.received_at,
    )
    assert built.lead is None
    assert built.profile is None
    assert built.normalized == {}
    profile, intent = cast("Any", "<profile>"), cast("Any", "<intent>")
    carried = drop_outcome(
        head, DropReason.UNMAPPED_EVENT, "<detail>", built.stages, profile, intent
    )
    assert carried._asdict() == {**built._asdict(), "profile": "<profile>", "lead": "<intent>"}


def test_with_stage_and_with_intent_replace_only_their_fields() -> None:
    """with_stage appends one stage; with_intent sets the lead and appends one stage; every
    other field keeps its value (a swap of two fields would show)."""
    values = _distinct(Outcome._fields)
    values["stages"] = ("<first>",)
    outcome = Outcome(**values)
    staged = outcome.with_stage("<second>")  # type: ignore[arg-type]
    assert staged._asdict() == {**values, "stages": ("<first>", "<second>")}
    carried = outcome.with_intent("<intent>", "<second>")  # type: ignore[arg-type]
    assert carried._asdict() == {**values, "lead": "<intent>", "stages": ("<first>", "<second>")}
    assert type(carried) is Outcome
    assert outcome._asdict() == values  # the original is untouched
