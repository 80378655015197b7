"""Identity: remembering what visitors told us (stitching) and finding a usable email.

The caller loads the profile snapshot for an event's identities and writes back the update this
module returns; nothing here does IO. Merging never overwrites a non-empty trait with an empty
one. Consent is replaced, not merged: the latest consent a visitor expressed is the one that
counts, so a revocation on any later event is visible to the delivery worker's re-check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadgate.domain.outcome import Drop
from leadgate.domain.profile import Profile, new_profile
from leadgate.domain.reasons import DropReason
from leadgate.pipeline.email import InvalidEmail, normalize_email

_SCALARS = (str, int, float, bool)
_NEVER_EMPTY = frozenset({int, float, bool})
MAX_TRAITS = 200


def is_empty(value: object) -> bool:
    """None, blank text, and empty containers carry no information."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def merge_traits(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with every non-empty scalar of ``update`` laid over it."""
    merged = dict(base)
    for key, value in update.items():
        if not isinstance(value, _SCALARS) or is_empty(value):
            continue
        if key in merged or len(merged) < MAX_TRAITS:
            merged[key] = value
    return merged


_MISSING = object()


def _adds_anything(base: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
    """True when ``merge_traits(base, update)`` may differ from ``base`` (found without a copy)."""
    if update.items() <= base.items():  # the common case (a returning visitor), all in C
        return False
    get = base.get
    for key, value in update.items():
        if get(key, _MISSING) == value:
            continue
        if isinstance(value, _SCALARS) and not is_empty(value):
            return True
    return False


def remember(
    snapshot: Profile, traits: Mapping[str, Any], consent: dict[str, bool] | None
) -> Profile | None:
    """The profile after this event, or None when the event changed nothing."""
    old_traits = snapshot.traits
    old_consent = snapshot.consent
    new_consent = old_consent if consent is None or consent == old_consent else consent
    if traits and _adds_anything(old_traits, traits):
        merged = merge_traits(old_traits, traits)
        if merged != old_traits:
            return new_profile(merged, new_consent)
    if new_consent is old_consent:
        return None
    return new_profile(old_traits, new_consent)


EMPTY_PROFILE = Profile()


def merge_profiles(profiles: Iterable[Profile | None]) -> Profile:
    """One snapshot from the profiles of an event's identities (userId's first).

    Traits: the first non-empty value wins. Consent: the first profile that holds any.
    """
    if isinstance(profiles, list):  # the processor's case: one profile under every key, or none
        count = len(profiles)
        if count == 0:
            return EMPTY_PROFILE
        first: Profile | None = profiles[0]
        second: Profile | None = profiles[1] if count == 2 else first
        if count <= 2 and (second is first or second is None or first is None):
            if first is not None:
                return first
            return EMPTY_PROFILE if second is None else second
    found: list[Profile] = []
    for profile in profiles:
        # One outcome's profile is stored under every identity, so the same object is common.
        if profile is not None and (not found or profile is not found[0]):
            found.append(profile)
    if not found:
        return EMPTY_PROFILE
    if len(found) == 1:
        return found[0]
    return _merge_many(found)


def _merge_many(found: list[Profile]) -> Profile:
    first = found[0]
    traits: dict[str, Any] = {
        key: value
        for key, value in first.traits.items()
        if (
            value.strip()
            if value.__class__ is str
            else value.__class__ in _NEVER_EMPTY or not is_empty(value)
        )
    }
    consent = first.consent or None
    done = first.traits
    for profile in found[1:]:
        more = profile.traits
        if more is not done:  # one update often leaves the traits dict shared: nothing to add
            for key, value in more.items():
                if key in traits:
                    continue
                kind = value.__class__
                if kind is str:
                    if value.strip():
                        traits[key] = value
                elif kind in _NEVER_EMPTY or not is_empty(value):
                    traits[key] = value
        if consent is None and profile.consent:
            consent = profile.consent  # shared, like every consent dict: nobody mutates one
    return new_profile(traits, consent or {})


@dataclass(frozen=True, slots=True)
class Identity:
    """The normalised email of a lead and where it came from."""

    email: str
    source: str


def find_email(sources: Iterable[tuple[str, Mapping[str, Any]]]) -> Identity | Drop:
    """The first usable email among ``(source name, traits)`` pairs, in order.

    An unusable address counts as missing (it is never guessed at); if none is usable the
    event drops as ``invalid_email`` when one was offered, else ``no_identity``.
    """
    problems: list[str] = []
    for source, traits in sources:
        raw = traits.get("email")
        if is_empty(raw):
            continue
        if not isinstance(raw, str):
            problems.append(f"{source}.email is not text")
            continue
        try:
            return Identity(email=normalize_email(raw), source=source)
        except InvalidEmail as exc:
            problems.append(f"{source}.email: {exc}")
    if problems:
        return Drop(DropReason.INVALID_EMAIL, "; ".join(problems))
    return NO_IDENTITY


# Built once: most lead events of anonymous visitors end here, and a frozen dataclass costs
# more to build than the rest of the identity stage (bench P1).
NO_IDENTITY = Drop(
    DropReason.NO_IDENTITY,
    "no email in the event or in an earlier identify for this userId/anonymousId",
)
