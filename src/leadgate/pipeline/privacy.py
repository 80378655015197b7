"""Who an event is about, for the suppression check: its identity keys and any email it carries.

A forgotten person is suppressed by the salted hashes of these identifiers (``store.suppression``);
the processor checks them for every event before it reads or writes any state. The email is
looked for where the pipeline looks for it (``traits``, ``context.traits``, ``properties``) and
normalised the same way; an address that does not normalise is not an identifier.
"""

from __future__ import annotations

from typing import Any

import orjson

from leadgate.domain.events import EventHead, decode
from leadgate.domain.outcome import Drop
from leadgate.pipeline.email import InvalidEmail, normalize_email


def event_emails(data: dict[str, Any]) -> tuple[str, ...]:
    """The normalised emails an event carries in ``traits``, ``properties`` or
    ``context.traits`` (most events carry none: three dictionary lookups)."""
    found: list[str] = []
    context = data.get("context")
    for holder in (
        data.get("traits"),
        data.get("properties"),
        context.get("traits") if context.__class__ is dict else None,
    ):
        if holder.__class__ is not dict or "email" not in holder:
            continue
        raw = holder["email"]
        if isinstance(raw, str) and raw.strip():
            try:
                found.append(normalize_email(raw))
            except InvalidEmail:
                continue
    return tuple(found)


def email_identifier(normalized_email: str) -> str:
    """The identifier of a normalised email address (beside ``user:…`` and ``anon:…``)."""
    return f"email:{normalized_email}"


def person_identifiers(head: EventHead) -> tuple[str, ...]:
    """``user:…``, ``anon:…`` and ``email:<normalised>`` of one event, without repeats."""
    emails = event_emails(head.data)
    if not emails:
        return head.identities
    return tuple(dict.fromkeys((*head.identities, *map(email_identifier, emails))))


def profile_email(traits: dict[str, Any]) -> str | None:
    """The normalised email a profile holds, if it holds a usable one."""
    raw = traits.get("email")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return normalize_email(raw)
    except InvalidEmail:
        return None


def record_identifiers(value: bytes | None) -> tuple[str, ...]:
    """Who a Kafka record is about: an event's identifiers, or a lead intent's email and
    identities (a dead letter may be either); ``()`` when it is neither."""
    if not value:
        return ()
    head = decode(value)
    if not isinstance(head, Drop):
        return person_identifiers(head)
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return ()
    if not isinstance(data, dict):
        return ()
    found: list[str] = []
    email = data.get("email")
    if isinstance(email, str) and email:
        found.append(email_identifier(email))
    identities = data.get("identities")
    if isinstance(identities, list):
        found.extend(i for i in identities if isinstance(i, str) and i)
    return tuple(found)
