"""One door to Outreach for every lead intent: ``Dispatcher.deliver(intent, exchanges)``.

A lead intent says what it wants by its ``kind`` (``upsert_prospect``, ``consent_withdrawn``,
``upsert_opportunity``); the dispatcher maps the kind to its handler, an
``async (intent, exchanges) -> DeliveryResult`` that makes one attempt and raises the ``errors``
types on failure. The delivery worker and ``leadgate send`` call only the dispatcher, so a new
kind of write is one handler and one ``register`` line (``outreach/handlers.py``). An intent whose
kind has no handler cannot succeed by retrying: it is dead-lettered as ``unsupported_kind``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from leadgate.domain.lead import LeadIntent
from leadgate.domain.reasons import DeadLetterReason
from leadgate.domain.routing import RoutingOutcome
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError
from leadgate.outreach.health import HealthGate


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivered intent did in Outreach.

    ``action`` is one word a person reads in the trace and the ``leadgate send`` report:
    ``created``, ``updated``, ``unchanged``, ``matched_existing``, ``enrolled``, ``opted_out``…
    ``notes`` are short trace lines explaining decisions (no raw email or phone in them).
    """

    record_type: str  # the Outreach resource written: "prospect", "opportunity", ...
    record_id: int | None
    action: str
    account_id: int | None = None
    notes: tuple[str, ...] = ()
    routing: RoutingOutcome | None = None  # owner, stage, enrolment of a routed lead (ROUTING)

    @property
    def prospect_id(self) -> int | None:
        """The prospect's id when the record written is a prospect."""
        return self.record_id if self.record_type == "prospect" else None

    def noted(self, *notes: str) -> DeliveryResult:
        """The same result with more trace lines."""
        return replace(self, notes=(*self.notes, *notes))

    def to_json(self) -> dict[str, Any]:
        """The trace's form of the result."""
        return {
            "recordType": self.record_type,
            "recordId": self.record_id,
            "action": self.action,
            "accountId": self.account_id,
            "notes": list(self.notes),
            **({} if self.routing is None else {"enrolment": self.routing.enrolment}),
        }


Handler = Callable[[LeadIntent, ExchangeRecorder], Awaitable[DeliveryResult]]


class Dispatcher:
    """Maps an intent's ``kind`` to the handler that writes it; ``health`` is the Outreach
    client's shared health gate (``outreach/health.py``), which retry decisions consult."""

    def __init__(
        self, handlers: Mapping[str, Handler] | None = None, *, health: HealthGate | None = None
    ) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self.health = health if health is not None else HealthGate()

    def register(self, kind: str, handler: Handler) -> None:
        """Deliver intents of ``kind`` with ``handler`` (one handler per kind)."""
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this dispatcher can deliver."""
        return frozenset(self._handlers)

    async def deliver(self, intent: LeadIntent, exchanges: ExchangeRecorder) -> DeliveryResult:
        """One attempt at ``intent``; raises the ``errors`` types on failure."""
        handler = self._handlers.get(intent.kind)
        if handler is None:
            raise PermanentError(
                f"no handler delivers lead intents of kind {intent.kind!r} in this worker "
                f"(it delivers {', '.join(sorted(self._handlers)) or 'nothing'})",
                reason=str(DeadLetterReason.UNSUPPORTED_KIND),
            )
        return await handler(intent, exchanges)
