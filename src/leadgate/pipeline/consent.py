"""The consent gate: every category a preset requires must be granted, and only ``true`` grants.

Consent arrives in ``context.consent`` in one of three shapes, all accepted:

- ``{"categories": {"marketing": true, "analytics": false}}`` (a map) or
  ``{"categories": ["marketing"]}`` (the list of granted categories);
- ``{"canonical": {...}}`` (the same two shapes, as some CMP bridges send it);
- Segment's ``{"categoryPreferences": {"marketing": true}}``.

Fail closed: a missing, unparseable or non-boolean value denies. ``"true"``, ``1`` and ``"yes"``
are not ``true``. The delivery worker re-checks consent with the same two functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from leadgate.domain.cache import BoundedCache

CONSENT_KEYS = ("categoryPreferences", "categories", "canonical")
_MAX_CACHED = 1024
_parsed: BoundedCache[bytes, dict[str, bool]] = BoundedCache(_MAX_CACHED)
# The cache's lookup, bound once (it stays valid: the cache empties its dict in place). Every
# event with a consent looks it up, and the attribute read costs a third of the lookup (bench P1).
_parsed_get = _parsed.get


def _parse_shape(value: object) -> dict[str, bool] | None:
    if isinstance(value, dict):
        # JSON object keys are always text; only the value decides, and only True grants.
        return {str(key): granted is True for key, granted in value.items()}
    if isinstance(value, list):
        return {item: True for item in value if isinstance(item, str) and item}
    return None


def parse_consent(context_consent: object) -> dict[str, bool]:
    """Normalise ``context.consent`` to category -> granted (``{}`` grants nothing).

    Callers tell "no consent on this event" (``None``, so the profile's consent applies) from
    "consent we cannot read" (which is ``{}`` and replaces what the profile held) themselves.
    """
    if not isinstance(context_consent, dict):
        return {}
    for key in CONSENT_KEYS:
        if key in context_consent:
            parsed = _parse_shape(context_consent[key])
            return parsed if parsed is not None else {}
    return {}


def parse_consent_cached(context_consent: object) -> dict[str, bool]:
    """``parse_consent``, remembered per distinct raw value; the result is shared, never mutate it.

    A site sends a handful of distinct consent objects, and every event carries one. The key is
    the value's JSON text, not the value: ``{"marketing": 1}`` equals ``{"marketing": True}`` in
    Python, but only ``true`` grants. A value that is not an object is keyed the same way (it
    parses to ``{}``): no type test first, which every event would pay (bench P1).
    """
    try:
        key = orjson.dumps(context_consent)
    except orjson.JSONEncodeError:  # too deep to serialise: parse it, do not remember it
        return parse_consent(context_consent)
    parsed = _parsed_get(key)
    return parsed if parsed is not None else _parsed.put(key, parse_consent(context_consent))


def consent_granted(consent: Mapping[str, bool], required: Iterable[str]) -> bool:
    """True when every required category is granted with a literal ``True``."""
    # A loop, not ``all(...)`` over a generator: every lead checks this (bench P1).
    for category in required:  # noqa: SIM110 (see above)
        if consent.get(category) is not True:
            return False
    return True


def missing_consent(consent: Mapping[str, bool], required: Iterable[str]) -> tuple[str, ...]:
    """The required categories that are not granted (for the trace's detail)."""
    return tuple(category for category in required if consent.get(category) is not True)
