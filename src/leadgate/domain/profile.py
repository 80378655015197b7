"""A profile: what earlier events told us about one visitor (identity stitching).

The processor loads the profile of an event's identities (``user:<userId>``, ``anon:<anonymousId>``)
from the state store, passes the snapshot into the pure pipeline, and writes back the update the
pipeline returns. ``traits`` keeps the last non-empty value of each trait; ``consent`` is the
latest normalised consent (category -> granted), from any event that carried consent.
"""

from __future__ import annotations

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


# Not cached: an lru_cache saved ~1.2% of P1's instructions only while the bench's id pairs fit
# in it; at the bench's full size (and a real site's many visitors) it missed and evicted, and
# the P1 loop was slower with it than without (interleaved runs, 50,000 records).
def identity_keys(user_id: str | None, anonymous_id: str | None) -> tuple[str, ...]:
    """The store keys one event's profile lives under, userId first (``decode`` calls this for
    every event, hence tuples built at once rather than a list)."""
    if user_id:
        if anonymous_id:
            return (f"user:{user_id}", f"anon:{anonymous_id}")
        return (f"user:{user_id}",)
    return (f"anon:{anonymous_id}",) if anonymous_id else ()
