"""The pieces every path of ``process()`` builds its outcome from: the shared trace records,
the drop outcome, and the event's containers read once.

Shared records are built once at import: most events end in one of a handful of traces, and a
tuple of ready-made ``StageRecord`` costs nothing per event.
"""

from __future__ import annotations

from typing import Any

from leadgate.domain.events import EventHead, Fields, validate
from leadgate.domain.outcome import Drop, Outcome, drop_outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.consent import parse_consent_cached

DECODED = StageRecord("decode", StageStatus.PASS)
REMEMBERED = StageRecord("profile", StageStatus.PASS, detail="profile updated")
UNCHANGED = StageRecord("profile", StageStatus.PASS, detail="nothing new to remember")


def why(drop: Drop) -> tuple[str, str]:
    """A drop as a trace record's ``reason`` and ``detail``."""
    return str(drop.reason), drop.detail


def dropped(
    head: EventHead | None,
    drop: Drop,
    stages: tuple[StageRecord, ...],
    profile: Profile | None = None,
) -> Outcome:
    """The outcome of an event that sends nothing (``head`` None: it did not even decode)."""
    if head is None:
        return Outcome(drop=drop.reason, detail=drop.detail, stages=stages)
    return drop_outcome(head, drop.reason, drop.detail, stages, profile)


def undecodable(drop: Drop, stage: str = "decode") -> Outcome:
    """The outcome of a record that is not an event (or hit a bug at ``stage``)."""
    return dropped(None, drop, (StageRecord(stage, StageStatus.DROP, *why(drop)),))


def event_consent(raw: object) -> dict[str, bool] | None:
    """The event's own consent, parsed; None when it carries none (the profile's applies)."""
    return None if raw is None else parse_consent_cached(raw)


def validated_fields(head: EventHead) -> Fields | Drop:
    """The event's containers by the full model, or why it refuses them: for an event whose
    cheap check (``domain.events.fields``) was in doubt. Call it as
    ``fields(head) or validated_fields(head)`` (a ``Fields`` is never empty), which saves the
    hot path a Python call per event (bench P1)."""
    event = validate(head)
    if isinstance(event, Drop):
        return event
    traits: dict[str, Any] = getattr(event, "traits", {})
    properties: dict[str, Any] = getattr(event, "properties", {})
    return Fields(event.context.traits, event.context.consent, traits, properties)
