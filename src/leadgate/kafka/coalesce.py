"""Coalescing: the lead intents of one email that arrive close together become one upsert.

A visitor who submits a form and then requests a demo within a second produces two intents;
Outreach should see one prospect write carrying both tags. The merge is deterministic and
order-aware (the delivery topic is keyed by email, so intents of one email arrive in order):
tags are a union in first-seen order, a later non-empty attribute wins over an earlier one,
consent is the latest per category, and every source messageId is kept so traces join up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadgate.domain.lead import LeadIntent


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def coalesce(intents: Sequence[LeadIntent]) -> LeadIntent:
    """Merge the intents of one email (in arrival order) into one."""
    if not intents:
        raise ValueError("nothing to coalesce")
    if len(intents) == 1:
        return intents[0]
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
        }
    )
