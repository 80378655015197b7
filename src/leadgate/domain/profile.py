"""A profile: what earlier events told us about one visitor (identity stitching).

The processor loads the profile of an event's identities (``user:<userId>``, ``anon:<anonymousId>``)
from the state store, passes the snapshot into the pure pipeline, and writes back the update the
pipeline returns. ``traits`` keeps the last non-empty value of each trait; ``consent`` is the
latest normalised consent (category -> granted), from any event that carried consent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Profile(BaseModel):
    """Traits and consent remembered for one visitor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    traits: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)

    @property
    def email(self) -> str | None:
        """The raw email trait, if any earlier event left one."""
        value = self.traits.get("email")
        return value if isinstance(value, str) and value else None


# Cached (every event calls this through ``decode``): a visitor sends many events, and a cached
# tuple's strings keep their hashes, which every profile lookup of the event reuses; together
# about 1.2% of the P1 loop's instructions. At most 8192 id pairs (a few MB).
@lru_cache(maxsize=8192)
def identity_keys(user_id: str | None, anonymous_id: str | None) -> tuple[str, ...]:
    """The store keys one event's profile lives under, userId first (``decode`` calls this for
    every event, hence tuples built at once rather than a list)."""
    if user_id:
        if anonymous_id:
            return (f"user:{user_id}", f"anon:{anonymous_id}")
        return (f"user:{user_id}",)
    return (f"anon:{anonymous_id}",) if anonymous_id else ()
