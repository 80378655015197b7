"""A profile: what earlier events told us about one visitor (identity stitching).

The processor loads the profile of an event's identities (``user:<userId>``, ``anon:<anonymousId>``)
from the state store, passes the snapshot into the pure pipeline, and writes back the update the
pipeline returns. ``traits`` keeps the last non-empty value of each trait; ``consent`` is the
latest normalised consent (category -> granted), from any event that carried consent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, final


@final
@dataclass(frozen=True, slots=True)
class Profile:
    """Traits and consent remembered for one visitor. Never mutate its dicts: profiles share them.

    A slotted frozen dataclass, not a pydantic model: the hot path reads a profile's fields for
    almost every event, and CPython 3.11 specialises a slot read (about 75 instructions) but not
    a read from a pydantic model (about 440: ``BaseModel.__getattr__`` stops the specialisation).
    Everything that builds one from outside data validates it first (``store.profile_records``).
    """

    traits: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        """The raw email trait, if any earlier event left one."""
        value = self.traits.get("email")
        return value if isinstance(value, str) and value else None


_new = object.__new__
# The slot descriptors' setters: they fill a new instance without the frozen class's
# ``__init__`` (a Python call and two ``object.__setattr__`` lookups).
_set_traits = vars(Profile)["traits"].__set__
_set_consent = vars(Profile)["consent"].__set__


def new_profile(traits: dict[str, Any], consent: dict[str, bool]) -> Profile:
    """``Profile(traits, consent)`` for values the pipeline made, built without ``__init__`` (one
    event in seven changes a profile, bench P1). The dicts are kept, not copied."""
    profile: Profile = _new(Profile)
    _set_traits(profile, traits)
    _set_consent(profile, consent)
    return profile


# Not cached: an lru_cache saved ~1.2% of P1's instructions only while the bench's id pairs fit
# in it; at the bench's full size (and a real site's many visitors) it missed and evicted, and
# the P1 loop was slower with it than without (interleaved runs, 50,000 records).
def identity_keys(user_id: str | None, anonymous_id: str | None) -> tuple[str, ...]:
    """The store keys one event's profile lives under, userId first (``decode`` calls this for
    every event, hence tuples built at once rather than a list, and ``+``, which CPython 3.11
    specialises for two strings, rather than f-strings)."""
    if user_id:
        if anonymous_id:
            return ("user:" + user_id, "anon:" + anonymous_id)
        return ("user:" + user_id,)
    return ("anon:" + anonymous_id,) if anonymous_id else ()
