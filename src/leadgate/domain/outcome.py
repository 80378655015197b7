"""What ``process()`` decided about one event: a drop (a value, never an exception) or a lead.

``Outcome`` is the one answer the processor, the inspector's dry run and ``leadgate presets try``
all read: the decision, the per-stage trace, the normalised fields and the profile update the
caller must write back to the state store under ``identities``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, final

from leadgate.domain.lead import LeadIntent
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason
from leadgate.domain.trace import StageRecord

if TYPE_CHECKING:  # events.py imports this module (Drop)
    from leadgate.domain.events import EventHead


@final
@dataclass(frozen=True, slots=True)
class Drop:
    """An event that does not become a lead, and why (``detail`` never holds raw PII).

    Final, so the hot path may test ``type(x) is Drop``: ``isinstance`` of a value that is not
    a ``Drop`` also looks up its ``__class__`` attribute, four times the cost (bench P1).
    """

    reason: DropReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


_NOTHING_NORMALIZED: dict[str, Any] = {}


class Outcome(NamedTuple):
    """The decision about one event plus everything needed to explain it.

    Immutable like a frozen dataclass, but a NamedTuple: one is built for every event, and a
    frozen dataclass of eleven fields costs more to build than orjson takes to parse the event
    (bench P1). Build it with keywords; on the hot path with :func:`fast_outcome` (every field,
    by keyword) or, for an event that sends nothing, :func:`drop_outcome`. ``normalized`` is
    shared when empty, never mutate it.
    """

    message_id: str | None = None
    event_type: str | None = None
    event_name: str | None = None
    identities: tuple[str, ...] = ()
    drop: DropReason | None = None
    detail: str | None = None
    lead: LeadIntent | None = None
    profile: Profile | None = None
    stages: tuple[StageRecord, ...] = ()
    normalized: dict[str, Any] = _NOTHING_NORMALIZED
    received_at: str | None = None

    def with_stage(self, stage: StageRecord) -> Outcome:
        """This outcome with ``stage`` added to its trace (the withdrawal check annotates about
        one event in twenty so)."""
        # A copy with one field replaced, built in C: ``_replace``, or ``fast_outcome`` with its
        # eleven keywords read back from ``self``, cost about three times as much (bench P1).
        fields = list(self)
        fields[_STAGES] = (*self.stages, stage)
        outcome: Outcome = _tuple_new(Outcome, fields)
        return outcome

    def with_intent(self, lead: LeadIntent, stage: StageRecord) -> Outcome:
        """This outcome carrying ``lead`` beside its own verdict, ``stage`` added to its trace (a
        consent withdrawal's intent travels so). Built in C like :meth:`with_stage`."""
        fields = list(self)
        fields[_LEAD] = lead
        fields[_STAGES] = (*self.stages, stage)
        outcome: Outcome = _tuple_new(Outcome, fields)
        return outcome

    @property
    def sent(self) -> bool:
        """True when the event became a lead intent for the delivery topic."""
        return self.lead is not None

    def trace_json(self) -> dict[str, Any]:
        """The processor's trace record for ``leadgate.traces`` (plain JSON types)."""
        return {
            "messageId": self.message_id,
            "stage": "processor",
            "type": self.event_type,
            "event": self.event_name,
            "receivedAt": self.received_at,
            "stages": [stage.to_json() for stage in self.stages],
            "normalized": dict(self.normalized),
            "reason": str(self.drop) if self.drop is not None else None,
            "detail": self.detail,
            "outcome": "pending" if self.sent else "dropped",
            "document": self.lead.document() if self.lead is not None else None,
        }


_tuple_new = tuple.__new__
_STAGES = Outcome._fields.index("stages")
_LEAD = Outcome._fields.index("lead")


def fast_outcome(
    *,
    message_id: str | None,
    event_type: str | None,
    event_name: str | None,
    identities: tuple[str, ...],
    drop: DropReason | None,
    detail: str | None,
    lead: LeadIntent | None,
    profile: Profile | None,
    stages: tuple[StageRecord, ...],
    normalized: dict[str, Any],
    received_at: str | None,
) -> Outcome:
    """``Outcome(...)`` without NamedTuple's Python-level ``__new__`` (a tenth of a page view's
    cost, bench P1): every field required, in one place that knows their order."""
    outcome: Outcome = _tuple_new(
        Outcome,
        (message_id, event_type, event_name, identities, drop, detail, lead, profile, stages,
         normalized, received_at),
    )  # fmt: skip
    return outcome


def drop_outcome(
    head: EventHead,
    drop: DropReason,
    detail: str,
    stages: tuple[StageRecord, ...],
    profile: Profile | None = None,
    withdrawal: LeadIntent | None = None,
) -> Outcome:
    """The outcome of a decoded event that sends nothing: ``fast_outcome`` with the head's fields
    and no values; no lead but the ``consent_withdrawn`` intent that may travel beside the drop.
    Most events end here (page views, unmapped tracks), so it takes its arguments by position:
    matching eleven keywords costs as much as building the tuple."""
    # One unpack instead of five field reads: on CPython 3.11 reading a NamedTuple field by name
    # is an unspecialised attribute lookup, and five of them cost twice this unpack (bench P1).
    # The head's field order is checked against ``EventHead`` by tests/domain.
    _, kind, name, message_id, _, _, received_at, identities = head
    outcome: Outcome = _tuple_new(
        Outcome,
        (message_id, kind, name, identities, drop, detail, withdrawal, profile, stages,
         _NOTHING_NORMALIZED, received_at),
    )  # fmt: skip
    return outcome
