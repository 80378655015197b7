"""Email normalisation: one canonical form for dedupe; unusable addresses rejected, not guessed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate.pipeline.email import _CANONICAL_HOST, InvalidEmail, idna_forms, normalize_email

NORMALISED = [
    ("  jane.doe@acme.com  ", "jane.doe@acme.com", "I3 spaces trimmed"),
    ("mailto:jane@acme.com", "jane@acme.com", "I3 mailto stripped"),
    ("MAILTO: Jane@Acme.com", "jane@acme.com", "I3 MAILTO any case"),
    ("Jane.Doe@ACME.COM", "jane.doe@acme.com", "I4 upper-case lowered"),
    ("jane@BÜCHER.de", "jane@bücher.de", "I4 unicode domain lowered"),
    ("jane@bu\u0308cher.de", "jane@bücher.de", "I4 NFD domain composed"),
    ("ZOË@acme.com", "zoë@acme.com", "I4 unicode local part"),
    ("jane+demo@acme.co.uk", "jane+demo@acme.co.uk", "plus addressing kept"),
]


@pytest.mark.parametrize(("raw", "expected", "case"), NORMALISED, ids=[n[2] for n in NORMALISED])
def test_normalises(raw: str, expected: str, case: str) -> None:
    """Usable addresses come out trimmed, lower-cased, NFC and IDNA-canonical."""
    assert normalize_email(raw) == expected


REJECTED = [
    ("Bob <bob@acme.com>", "display-name", "I3 display name"),
    ('"Bob" bob@acme.com', "display-name", "I3 quoted name"),
    ("jane＠acme.com", "exactly one @", "I4 fullwidth at sign"),
    ("ja\u200bne@acme.com", "invisible", "I5 zero-width space"),
    ("jane@ac\u200dme.com", "invisible", "I5 zero-width joiner"),
    ("jane@acme\u202e.com", "invisible", "I5 right-to-left override"),
    ("jane@аcme.com", "mixes scripts", "I5 Cyrillic a in a Latin domain"),
    ("jane@аре.com", "look-alike", "I5 whole-script homoglyph"),
    ("jane@@acme.com", "exactly one @", "I6 two at signs"),
    ("a@b@acme.com", "exactly one @", "I6 at sign in local part"),
    ("j" * 250 + "@acme.com", "longer than 254", "I6 over 254 characters"),
    ("jane@acme", "no dot", "I6 no dot in domain"),
    ("jane@localhost", "no dot", "I6 localhost"),
    ("jane@host.localhost", "reserved", "I6 .localhost"),
    ("jane@[127.0.0.1]", "quoted parts", "I6 address literal"),
    ("jane@acme.com.", "plain host name", "I6 trailing dot"),
    (".jane@acme.com", "mailbox", "I6 leading dot"),
    ("ja..ne@acme.com", "mailbox", "I6 double dot"),
    ("jane@-acme.com", "internationalised", "I6 label starts with hyphen"),
    ("jane@acme.123", "not a host name", "I6 numeric top-level domain"),
    ("@acme.com", "mailbox", "I6 empty local part"),
    ("", "empty", "empty"),
    ("mailto:", "empty", "mailto only"),
]


@pytest.mark.parametrize(("raw", "message", "case"), REJECTED, ids=[r[2] for r in REJECTED])
def test_rejects(raw: str, message: str, case: str) -> None:
    """Unusable addresses raise InvalidEmail with a reason that does not repeat the address."""
    with pytest.raises(InvalidEmail, match=message) as info:
        normalize_email(raw)
    if raw:
        assert raw not in str(info.value)


def test_same_person_same_key() -> None:
    """I9: one person's address in different casing and wrapping gives one key."""
    forms = ["Jane.Doe@Acme.com", " jane.doe@ACME.COM", "mailto:JANE.DOE@acme.com"]
    assert {normalize_email(form) for form in forms} == {"jane.doe@acme.com"}


@given(st.text(max_size=80))
def test_never_raises_anything_else_and_is_idempotent(raw: str) -> None:
    """Any text either normalises to a fixed point or raises InvalidEmail."""
    try:
        once = normalize_email(raw)
    except InvalidEmail:
        return
    assert normalize_email(once) == once


@given(
    st.from_regex(r"[A-Za-z0-9._%+-]{1,20}", fullmatch=True),
    st.sampled_from(["acme.com", "ACME.io", "bücher.de", "Example.ORG"]),
)
def test_generated_addresses_are_idempotent(local: str, domain: str) -> None:
    """Plausible addresses that normalise are fixed points of normalisation."""
    try:
        once = normalize_email(f" {local}@{domain} ")
    except InvalidEmail:
        return
    assert once == once.strip().lower() or not once.isascii()
    assert normalize_email(once) == once


HOSTS = [
    "acme.com",
    "company17.example.com",
    "a.b",
    "1-2.3a",
    "x" * 63 + ".com",
    "ab-cd.io",
    "a--b.io",
    "xn--bcher-kva.de",
    "ab--cd.io",
    "-acme.com",
    "acme-.com",
    "x" * 64 + ".com",
    "acme..com",
    "acme_corp.com",
    "bücher.de",
    "localhost",
]


def _agrees_with_idna(domain: str) -> None:
    if not _CANONICAL_HOST.fullmatch(domain):
        return
    assert idna_forms(domain) == (domain, domain)


@pytest.mark.parametrize("domain", HOSTS)
def test_the_canonical_host_shortcut_agrees_with_idna(domain: str) -> None:
    """A domain that skips the IDNA round trip is one IDNA maps to itself, in both forms."""
    _agrees_with_idna(domain)
    assert _CANONICAL_HOST.fullmatch("xn--bcher-kva.de") is None  # A-labels take the round trip


@given(st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){1,3}", fullmatch=True))
def test_generated_canonical_hosts_agree_with_idna(domain: str) -> None:
    """Any generated lower-case LDH name the shortcut takes, IDNA maps to itself."""
    _agrees_with_idna(domain)
