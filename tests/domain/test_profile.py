"""Profile: an immutable value; the pipeline's fast builder makes exactly what the class makes."""

from __future__ import annotations

import dataclasses

import pytest

from leadgate.domain.profile import Profile, new_profile
from leadgate.store.profile_records import decode_profile, encode_profile


def test_new_profile_equals_a_profile_built_by_the_class() -> None:
    """new_profile() keeps the very dicts it is given and compares, prints and reads as the
    class's own constructor does."""
    traits = {"email": "jane@acme.com", "age": 3}
    consent = {"marketing": True}
    built = new_profile(traits, consent)
    made = Profile(traits=dict(traits), consent=dict(consent))
    assert built == made
    assert repr(built) == repr(made)
    assert built.traits is traits
    assert built.consent is consent
    assert built.email == "jane@acme.com"
    assert Profile() == new_profile({}, {})


def test_a_profile_cannot_be_changed_or_grown() -> None:
    """Profiles are shared between identities and batches: assigning or adding a field fails."""
    profile = new_profile({"email": "jane@acme.com"}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.consent = {"marketing": True}  # type: ignore[misc]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        profile.extra = 1  # type: ignore[attr-defined]
    assert profile.consent == {}


def test_stored_bodies_of_both_layouts_read_back_as_profiles() -> None:
    """The compact body round-trips; a body of the previous layout is validated as before
    (lax booleans accepted, an unknown field refused)."""
    profile = new_profile({"email": "jane@acme.com"}, {"marketing": True, "analytics": False})
    assert decode_profile(encode_profile(profile)) == profile
    legacy = decode_profile(b'{"traits":{"title":"CTO"},"consent":{"marketing":"true"}}')
    assert legacy == Profile(traits={"title": "CTO"}, consent={"marketing": True})
    with pytest.raises(ValueError, match="unknown"):
        decode_profile(b'{"traits":{},"unknown":1}')
