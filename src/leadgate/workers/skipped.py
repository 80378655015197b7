"""Outcomes of events the processor does not run through ``process()``: a repeated messageId
(``duplicate_message``) and an event of a forgotten person (``suppressed``)."""

from __future__ import annotations

from typing import Any

from leadgate.domain.events import EventHead
from leadgate.domain.outcome import Outcome
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.trace import StageRecord


def duplicate_outcome(event: dict[str, Any], message_id: str) -> Outcome:
    event_type = event.get("type")
    name = event.get("event")
    return Outcome(
        message_id=message_id,
        event_type=event_type if isinstance(event_type, str) else None,
        event_name=name if isinstance(name, str) else None,
        drop=DropReason.DUPLICATE_MESSAGE,
        detail="messageId already processed",
        stages=(
            StageRecord(
                "dedupe", StageStatus.DROP, str(DropReason.DUPLICATE_MESSAGE), "already processed"
            ),
        ),
        received_at=event.get("receivedAt") if isinstance(event.get("receivedAt"), str) else None,
    )


_SUPPRESSED_DETAIL = "this person asked to be forgotten (leadgate privacy unsuppress lifts it)"
_SUPPRESSED_STAGES = (
    StageRecord("privacy", StageStatus.DROP, str(DropReason.SUPPRESSED), _SUPPRESSED_DETAIL),
)


def suppressed_outcome(head: EventHead) -> Outcome:
    """The outcome of a forgotten person's event: no identities, no fields, nothing kept."""
    return Outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        drop=DropReason.SUPPRESSED,
        detail=_SUPPRESSED_DETAIL,
        stages=_SUPPRESSED_STAGES,
        received_at=head.received_at,
    )
