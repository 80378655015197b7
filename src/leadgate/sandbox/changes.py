"""The sandbox's change hook: every change to a resource, by whatever endpoint, is one ``Change``
handed to the listeners of the state's ``ChangeFeed`` (the webhook deliverer is one).

Resources kept in the generic ``Store`` (prospects, accounts, users, ...) emit on their own from
``Store.create/update/delete``. A sandbox module that keeps its own data (sequenceStates,
opportunities, complianceRequests) calls the hook itself after each change::

    from leadgate.sandbox.changes import Change
    request.app[SANDBOX].changes.emit(
        Change("sequenceState", "created", state_id, {"state": "active", ...},
               {"prospect": 12, "sequence": 3})
    )

``attributes`` holds only what was created or changed (all of them for ``created`` and
``destroyed``); ``relationships`` maps a relationship name to the related id (None when cleared);
``before`` holds the previous values of the changed attributes (payloadVersion 2's
``beforeUpdate``). Outreach's own actions beyond created/updated/destroyed (``advanced``,
``finished``, ``completed``...) are just other ``action`` strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one resource, as a webhook would report it."""

    kind: str  # JSON:API type, singular: "prospect"
    action: str  # "created" | "updated" | "destroyed" | a resource-specific action
    id: int
    attributes: dict[str, Any]
    relationships: dict[str, int | None] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def event_name(self) -> str:
        """``<resource>.<action>``, Outreach's ``meta.eventName``."""
        return f"{self.kind}.{self.action}"


Listener = Callable[[Change], None]


@dataclass(slots=True)
class ChangeFeed:
    """The listeners of one sandbox's changes; ``emit`` calls each synchronously, in order."""

    listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` for every later change."""
        self.listeners.append(listener)

    def emit(self, change: Change) -> None:
        """Report one change (the listeners must not block: they schedule their own IO)."""
        for listener in self.listeners:
            listener(change)
