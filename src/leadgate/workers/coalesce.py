"""Coalescing: the lead intents of one email that arrive close together become one upsert.

A visitor who submits a form and then requests a demo within a second produces two intents.
Coalescing is *leading-edge*: the first intent of an email with no upsert in the last
``coalesce_window_s`` goes at once (no lead waits for a window), and the intents of that email
arriving within the window after it wait in the email's lane (``workers/lanes.py``) and are
folded into one write at the window's end; if they change nothing, no-op suppression spares
even that. The merge is deterministic and order-aware (the delivery topic is keyed by email,
so intents of one email arrive in order): tags are a union in first-seen order, a later
non-empty attribute wins over an earlier one, consent is the latest per category, every source
messageId is kept so traces join up, and routing is the earliest plan's
(``domain.routing.merge_plans``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from leadgate.domain.lead import LeadIntent
from leadgate.domain.routing import merge_plans


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


T = TypeVar("T")
COALESCING_KIND = "upsert_prospect"


def units(group: Sequence[tuple[T, LeadIntent]]) -> list[list[tuple[T, LeadIntent]]]:
    """One key's records (in arrival order) cut into delivery units, in order: each run of
    consecutive ``upsert_prospect`` intents is one unit (coalesced into one upsert); an intent
    of any other kind is a unit of its own, a barrier the runs around it do not merge across."""
    cut: list[list[tuple[T, LeadIntent]]] = []
    for item in group:
        if item[1].kind == COALESCING_KIND and cut and cut[-1][-1][1].kind == COALESCING_KIND:
            cut[-1].append(item)
        else:
            cut.append([item])
    return cut


def coalesce(intents: Sequence[LeadIntent]) -> LeadIntent:
    """Merge the ``upsert_prospect`` intents of one email (in arrival order) into one."""
    if not intents:
        raise ValueError("nothing to coalesce")
    if len(intents) == 1:
        return intents[0]
    if any(intent.kind != COALESCING_KIND for intent in intents):
        raise ValueError(f"only {COALESCING_KIND} intents coalesce")
    attributes: dict[str, Any] = {}
    consent: dict[str, bool] = {}
    account = None
    for intent in intents:
        for name, value in intent.attributes.items():
            if not _is_empty(value) or name not in attributes:
                attributes[name] = value
        consent.update(intent.consent)
        if intent.account is not None:
            account = intent.account
    last = intents[-1]
    return last.model_copy(
        update={
            "attributes": attributes,
            "tags": _union(*(i.tags for i in intents)),
            "account": account,
            "consent": consent,
            "required_consent": _union(*(i.required_consent for i in intents)),
            "identities": _union(*(i.identities for i in intents)),
            "message_ids": _union(*(i.message_ids for i in intents)),
            "routing": merge_plans([i.routing for i in intents]),
        }
    )


class LeadingEdge:
    """When each email was last written, so followers within the window are held back."""

    def __init__(
        self,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        remembered: int = 50_000,
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._remembered = remembered
        self._last: dict[str, float] = {}

    def due(self, email: str) -> float | None:
        """When a write for ``email`` may go (monotonic), or None when it may go now."""
        last = self._last.get(email)
        if last is None:
            return None
        due = last + self.window_s
        return due if due > self._clock() else None

    def now(self) -> float:
        """The clock this window runs on."""
        return self._clock()

    def wrote(self, email: str, at: float) -> None:
        """A write of ``email`` started at ``at``; only the recent ones are remembered."""
        if self.window_s <= 0:
            return
        self._last[email] = at
        if len(self._last) > self._remembered:
            horizon = self._clock() - self.window_s
            self._last = {e: t for e, t in self._last.items() if t > horizon}
