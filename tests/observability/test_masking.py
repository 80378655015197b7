"""Masking: emails, phones and secrets never leave leadgate raw (docs/reliability.md
P32, P33, D3)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgate.observability.masking import (
    HIDDEN,
    mask_email,
    mask_phone,
    mask_text,
    mask_value,
    scrub_secrets,
)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("jane.doe@acme.com", "j***@a***.com"),
        ("Sam@Example.org", "S***@E***.org"),
        ("x@localhost", "x***@l***"),
    ],
)
def test_mask_email_shape(raw: str, masked: str) -> None:
    """An email shows its first letter, its domain's first letter and its top-level domain."""
    assert mask_email(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+442079460123", "+44*******123"),
        ("+1 415 555 0100", "+14******100"),
        ("5550100", "*****00"),
    ],
)
def test_mask_phone_shape(raw: str, masked: str) -> None:
    """A phone keeps its country prefix and last three digits; short numbers only two."""
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("mail jane.doe@acme.com today", "jane.doe@acme.com"),
        ("/prospects?filter[emails]=jane%40acme.com", "jane%40acme.com"),
        ("call +44 20 7946 0123 now", "7946 0123"),
        ("tel:(415) 555-0100", "555-0100"),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("grant_type=refresh_token&refresh_token=r3fr3sh-t0k3n", "r3fr3sh-t0k3n"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_mask_text_finds_pii_and_secrets_by_pattern(text: str, leak: str) -> None:
    """Free text loses every email, phone number, bearer token and secret parameter."""
    assert leak not in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "550e8400-e29b-41d4-a716-446655440000",
        "2026-11-23T10:00:09.090Z",
        "Demo Requested",
        "/api/v2/prospects/42",
        "v1.2.3",
    ],
)
def test_mask_text_leaves_ids_times_and_paths_readable(text: str) -> None:
    """UUIDs, ISO times, event names and ids are not mistaken for phone numbers."""
    assert mask_text(text) == text


def test_mask_value_uses_field_names_as_well_as_patterns() -> None:
    """A phone trait, a secret-named key and nested lists are masked whatever their shape."""
    value = {
        "traits": {"phone": 4155550100, "mobilePhones": ["07700 900123"], "email": "a@b"},
        "headers": {"Authorization": "anything", "X-Api-Key": "whatever"},
        "rate_limit": {"X-RateLimit-Reset": "1795450000"},
    }
    masked = mask_value(value)
    assert masked["traits"]["phone"] == "41*****100"
    assert masked["traits"]["mobilePhones"] == ["07******123"]
    assert masked["traits"]["email"] == "a***@b***"
    assert masked["headers"] == {"Authorization": HIDDEN, "X-Api-Key": HIDDEN}
    assert masked["rate_limit"]["X-RateLimit-Reset"] == "1795450000"


def test_reveal_keeps_pii_but_never_secrets() -> None:
    """With revealing configured, emails stay readable and secrets are still hidden."""
    masked = mask_value({"email": "jane@acme.com", "token": "t0k3n"}, pii=False)
    assert masked == {"email": "jane@acme.com", "token": HIDDEN}


def test_scrub_secrets_removes_encoded_forms() -> None:
    """A known secret is removed raw, URL-encoded and base64-encoded (as in Basic auth)."""
    secret = "wk_live/canary+key=1"
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    text = f"raw {secret} url {quote(secret, safe='')} basic {basic}"
    scrubbed = scrub_secrets(text, [secret])
    assert secret not in scrubbed
    assert quote(secret, safe="") not in scrubbed
    assert basic not in scrubbed


# -- P33: emails and phones embedded anywhere ------------------------------------------------

_phones = st.builds(
    lambda cc, rest, sep: "+" + cc + sep + sep.join([rest[:3], rest[3:6], rest[6:]]),
    st.sampled_from(["1", "44", "33", "49", "61"]),
    st.text(alphabet="0123456789", min_size=9, max_size=10),
    st.sampled_from(["", " ", "-", "."]),
)
_filler = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_separators = st.sampled_from([" ", "", "=", ":", "/", "?q=", "<", ">", '"', "(", ", "])


def _embed(secret: str, where: str, before: str, after: str, sep: str) -> Any:
    text = f"{before}{sep}{secret}{' ' if after else ''}{after}"
    if where == "property":
        return {"properties": {"nested": [{"free": text}]}}
    if where == "event":
        return {"type": "track", "event": text}
    if where == "url":
        return {"context": {"page": {"url": f"https://acme.com/form?ref={quote(secret)}&x=1"}}}
    if where == "header":
        return {"exchanges": [{"response": {"errors": [{"detail": text}]}}]}
    return {text: "key holds it"}


_where = st.sampled_from(["property", "event", "url", "header", "key"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(email=st.emails(), where=_where, before=_filler, after=_filler, sep=_separators)
def test_no_raw_email_survives_masking(
    email: str, where: str, before: str, after: str, sep: str
) -> None:
    """Wherever an email hides in a trace, the masked JSON contains neither it nor its
    lower-cased or URL-encoded form."""
    masked = orjson.dumps(mask_value(_embed(email, where, before, after, sep))).decode()
    for form in {email, email.lower(), quote(email), quote(email, safe="")}:
        assert form not in masked


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(phone=_phones, where=_where, before=_filler, after=_filler, sep=_separators)
def test_no_raw_phone_survives_masking(
    phone: str, where: str, before: str, after: str, sep: str
) -> None:
    """Wherever a phone number hides in a trace, its digits never appear in a run."""
    masked = orjson.dumps(mask_value(_embed(phone, where, before, after, sep))).decode()
    digits = "".join(ch for ch in phone if ch.isdigit())
    assert phone not in masked
    assert digits not in "".join(ch if ch.isdigit() else " " for ch in masked).split(" ")
