"""Normalisation of the traits a preset maps: phone to E.164, names, plain text fields.

An unusable field is dropped with a warning (``warn`` in the trace), never the lead: a lead with
a bad phone number is still a lead. Normalising a normalised set of traits changes nothing.
The email is normalised earlier, by the identity gate (``leadgate.pipeline.email``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers

MAX_TEXT_CHARS = 255  # Outreach's limit on most prospect string attributes
MAX_PHONE_CHARS = 40
_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


@dataclass(slots=True)
class Normalized:
    """The normalised traits and a warning per field that had to be dropped."""

    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@lru_cache(maxsize=16384)
def normalize_phone(raw: str, region: str | None) -> str | None:
    """E.164 form of a phone number, or None when it cannot be one.

    ``region`` (ISO 3166 alpha-2) is used for numbers written without a country code; without
    one, only ``+``-prefixed numbers parse. Cached: phonenumbers costs ~40 µs a call.

    A number is kept when phonenumbers calls it valid, or when its length is possible for its
    country: the metadata lags new ranges and marks reserved ones invalid — the seed's own
    example, +44 7700 900123, sits in Ofcom's range for fiction — and dropping a salesperson's
    only phone number over that would be worse than sending it.
    """
    formatted = _e164(raw, region)
    # Keep only a fixed point: a few national forms (all zeros, say) format to a number that
    # formats differently again, and normalising a normalised trait must change nothing.
    if formatted is None or (formatted != raw and _e164(formatted, None) != formatted):
        return None
    return formatted


def _e164(raw: str, region: str | None) -> str | None:
    if len(raw) > MAX_PHONE_CHARS:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_country_code(number.country_code or 0) == "ZZ":
        return None
    if not phonenumbers.is_valid_number(number) and (
        phonenumbers.is_possible_number_with_reason(number) != _POSSIBLE
    ):
        return None
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def clean_text(value: object) -> str | None:
    """A trait as Outreach text: NFC, trimmed, no control characters, at most 255 characters.

    Numbers become text; booleans, lists, objects and unusable strings give None.
    """
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _clean_str(str(value))
    return None


def _clean_str(value: str) -> str | None:
    if value.isascii():  # the common case is cheaper than a lookup in a large cache
        text = " ".join(value.split())
        return text if text and len(text) <= MAX_TEXT_CHARS and text.isprintable() else None
    return _clean_unicode(value)


@lru_cache(maxsize=16384)
def _clean_unicode(value: str) -> str | None:
    text = " ".join(value.split())
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        if any(unicodedata.category(char) in _UNSAFE for char in text):
            return None
    elif not text.isprintable():
        return None
    if not text or len(text) > MAX_TEXT_CHARS:
        return None
    return text


def phone_region(traits: Mapping[str, Any], default_region: str | None) -> str | None:
    """The region for phone numbers without a country code: the ``country`` trait when it is
    an ISO alpha-2 code, else the configured default."""
    country = traits.get("country")
    if isinstance(country, str):
        code = country.strip().upper()
        if len(code) == 2 and code.isascii() and code.isalpha():
            return code
    return default_region


def _full_name(traits: Mapping[str, Any]) -> str | None:
    name = clean_text(traits.get("name"))
    if name is not None:
        return name
    # Written out: on Python 3.11 a comprehension or generator is a function made and called
    # for each lead (bench P1).
    first = clean_text(traits.get("firstName"))
    last = clean_text(traits.get("lastName"))
    if first and last:
        return f"{first} {last}"
    return first or last or None


def normalize_traits(
    traits: Mapping[str, Any], wanted: Iterable[str], *, default_region: str | None = None
) -> Normalized:
    """Normalise the ``wanted`` traits (the preset's mapping keys, minus ``email``)."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    get = traits.get
    for key in wanted:
        if key == "name":
            name = _full_name(traits)
            if name is not None:
                values["name"] = name
            continue
        raw = get(key)
        if raw is None or raw == "":
            continue
        text = _clean_str(raw) if raw.__class__ is str else clean_text(raw)
        if text is not None and key == "phone":
            region = phone_region(traits, default_region)
            text = normalize_phone(text, region)
            if text is None:
                reason = "no country code and no default region" if region is None else "invalid"
                warnings.append(f"phone dropped: {reason}")
                continue
        if text is None:
            warnings.append(f"{key} dropped: not usable text")
            continue
        values[key] = text
    return Normalized(values, warnings)
