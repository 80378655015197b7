"""How profiles are laid out in every store: one body per visitor, small aliases for its other
identities, and compact seen-id digests.

A visitor's events carry ``user:<userId>`` and/or ``anon:<anonymousId>``. A write of one
profile under several identity keys (the processor's ``put_profiles`` maps them to the same
``Profile`` object) stores the body once, under its *primary* key, the ``user:`` key, and an
*alias* under each ``anon:`` key naming the primary. The body remembers its aliases (at most
``MAX_ALIASES``, newest kept), so forgetting the person erases them too. Keys written together
without a ``user:`` key each get a body of their own (aliases always point at a ``user:`` key,
so there are no chains: a read follows at most one hop).

Anonymous keys (bodies and aliases) expire after ``state.anonymous_profile_idle_s`` without a
write; ``user:`` bodies are kept.

The body is compact JSON: ``{"t": traits, "c": consent}`` with empty parts left out and
consent as 1/0. Bodies of
the previous layout (``{"traits": …, "consent": …}``) are read as they are.

Seen messageIds are kept as a signed 64-bit BLAKE2b digest (``seen_digest``): with ``n`` ids
remembered, a new id is taken for a duplicate with probability ``n / 2**64``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from leadgate.domain.profile import Profile, new_profile

USER = "user:"
ANONYMOUS = "anon:"
# Aliases a body remembers (a visitor on many devices or browsers); older ones are dropped from
# the list (they still expire as anonymous keys do).
MAX_ALIASES = 16


class _LegacyBody(BaseModel):
    """A body of the previous layout, validated as the profile model of that layout was."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    traits: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)


def encode_profile(profile: Profile) -> bytes:
    """The compact JSON body of ``profile``."""
    doc: dict[str, Any] = {}
    if profile.traits:
        doc["t"] = profile.traits
    if profile.consent:
        doc["c"] = {category: int(granted) for category, granted in profile.consent.items()}
    return orjson.dumps(doc)


def decode_profile(body: bytes | str) -> Profile:
    """A body written by ``encode_profile`` or by the previous layout (``Profile`` JSON)."""
    doc = orjson.loads(body)
    if "traits" in doc or "consent" in doc:
        legacy = _LegacyBody.model_validate(doc)
        return new_profile(legacy.traits, legacy.consent)
    consent = {category: bool(granted) for category, granted in (doc.get("c") or {}).items()}
    return new_profile(doc.get("t") or {}, consent)


@dataclass(frozen=True, slots=True)
class BodyWrite:
    """One body to store under ``key``, with the aliases written with it."""

    key: str
    profile: Profile
    aliases: tuple[str, ...]


def plan_writes(profiles: Mapping[str, Profile]) -> tuple[list[BodyWrite], dict[str, str]]:
    """The bodies and the aliases (alias key -> primary key) of one batch write: keys mapped to
    the same ``Profile`` object are one visitor; its ``user:`` key holds the body."""
    groups: dict[int, list[str]] = {}
    for key, profile in profiles.items():
        groups.setdefault(id(profile), []).append(key)
    bodies: list[BodyWrite] = []
    aliases: dict[str, str] = {}
    for keys in groups.values():
        profile = profiles[keys[0]]
        primary = next((k for k in keys if k.startswith(USER)), None)
        if primary is None:
            bodies.extend(BodyWrite(k, profile, ()) for k in keys)
            continue
        linked = tuple(k for k in keys if k.startswith(ANONYMOUS))
        for other in keys:
            if other != primary and other not in linked:
                bodies.append(BodyWrite(other, profile, ()))  # a second user: key, say
        bodies.append(BodyWrite(primary, profile, linked))
        aliases.update(dict.fromkeys(linked, primary))
    return bodies, aliases


def merge_aliases(old: Iterable[str], new: Iterable[str]) -> list[str]:
    """The alias list after adding ``new`` (newest last, at most ``MAX_ALIASES``)."""
    merged = [a for a in old if a not in set(new)]
    merged.extend(dict.fromkeys(new))
    return merged[-MAX_ALIASES:]


def seen_digest(message_id: str) -> int:
    """The signed 64-bit digest a seen messageId is remembered by."""
    digest = hashlib.blake2b(message_id.encode(), digest_size=8, person=b"leadgate-seen").digest()
    return int.from_bytes(digest, "big", signed=True)
