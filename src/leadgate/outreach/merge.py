"""Writes that never destroy someone else's work (STYLE 19): what an update of a known prospect
sends, given what the lead asks for, what leadgate last sent, and Outreach's current values.

- A scalar attribute is sent only when the lead's value differs from the one leadgate last sent
  (a rep's later correction stays until the *lead* says something new), and never to clear a
  value: empty lead values are not sent.
- Arrays (``tags``, the phone lists) are replaced wholesale by Outreach
(docs/outreach-api.md#prospects), so
  they are sent as Outreach's current value plus what the lead adds; a value a rep removed comes
  back only when a lead event asks for it again. The current value comes from the mirror when it
  is fresh, else from a ``GET`` of the prospect before the PATCH.
- ``emails`` is never part of an update of a known prospect.

Pure functions; ``upsert.py`` does the IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadgate.domain.prospect import LIST_ATTRIBUTES

# Outreach's array attributes of a prospect other than emails (docs/outreach-api.md#prospects).
ARRAYS = LIST_ATTRIBUTES - {"emails"}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """What an update wants before Outreach's current arrays are known."""

    scalars: dict[str, Any]  # attributes whose lead value changed since last sent
    arrays: dict[str, list[str]]  # array attribute -> values the lead asks for
    tags: frozenset[str]  # tags this lead event asks for
    relink: bool

    @property
    def needs_current(self) -> bool:
        """True when the PATCH would touch an array: merge against Outreach's current value."""
        return bool(self.arrays) or bool(self.tags)

    @property
    def empty(self) -> bool:
        return not self.scalars and not self.needs_current and not self.relink


def plan_update(
    attributes: dict[str, Any],
    tags: frozenset[str],
    account_id: int | None,
    last_attributes: dict[str, Any],
    last_tags: frozenset[str],
    last_account: int | None,
) -> UpdatePlan:
    """The update a lead asks for, against what leadgate last sent (``{}`` if nothing known)."""
    scalars: dict[str, Any] = {}
    arrays: dict[str, list[str]] = {}
    for name, value in attributes.items():
        if name == "emails" or _empty(value):
            continue
        if name in ARRAYS:
            values = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
            sent = last_attributes.get(name) or []
            if any(v not in sent for v in values):
                arrays[name] = values
        elif last_attributes.get(name) != value:
            scalars[name] = value
    # An event bringing a tag not sent before asks for all of its tags again (so a tag a rep
    # removed comes back only with such an ask); otherwise the tags are left as Outreach has them.
    asked = tags if tags - last_tags else frozenset()
    relink = account_id is not None and account_id != last_account
    return UpdatePlan(scalars, arrays, asked, relink)


def merged_array(current: list[Any], added: list[str] | frozenset[str]) -> list[Any]:
    """``current`` with the values it lacks appended (order kept; tags compared exactly)."""
    merged = list(current)
    for value in sorted(added) if isinstance(added, frozenset) else added:
        if value not in merged:
            merged.append(value)
    return merged


def resolve(plan: UpdatePlan, current: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes to PATCH, given Outreach's current attributes (None: not needed/known)."""
    changes = dict(plan.scalars)
    if current is None:
        return changes
    for name in list(changes):
        if current.get(name) == changes[name]:
            del changes[name]  # a rep already set the same value
    for name, values in plan.arrays.items():
        now = [v for v in current.get(name) or [] if isinstance(v, str)]
        merged = merged_array(now, values)
        if merged != now:
            changes[name] = merged
    if plan.tags:
        now_tags = [t for t in current.get("tags") or [] if isinstance(t, str)]
        merged = merged_array(now_tags, plan.tags)
        if merged != now_tags:
            changes["tags"] = merged
    return changes


def merge_match(
    wanted: dict[str, Any],
    tags: frozenset[str],
    remote: dict[str, Any],
    last_attributes: dict[str, Any],
) -> dict[str, Any]:
    """The PATCH for a prospect found by lookup: lead values that differ from Outreach's and
    were not already sent as they are, arrays merged into Outreach's, nothing cleared."""
    changes: dict[str, Any] = {}
    for name, value in wanted.items():
        if name == "emails" or _empty(value):
            continue
        if name in ARRAYS:
            now = [v for v in remote.get(name) or [] if isinstance(v, str)]
            merged = merged_array(now, [v for v in value if isinstance(v, str)])
            if merged != now:
                changes[name] = merged
        elif remote.get(name) != value and last_attributes.get(name) != value:
            changes[name] = value
    now_tags = [t for t in remote.get("tags") or [] if isinstance(t, str)]
    merged_tags = merged_array(now_tags, tags)
    if merged_tags != now_tags:
        changes["tags"] = merged_tags
    return changes
