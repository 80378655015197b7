"""Email normalisation: one policy for the delivery topic's key and for Outreach's dedupe.

Trim, strip ``mailto:``, NFC, lower-case the whole address (Outreach dedupes on the lower-cased
address, so the local part is lower-cased too), check the syntax (no DNS), and canonicalise the
domain through IDNA (UTS #46). Display-name forms (``Bob <b@x.com>``), zero-width and other
invisible characters, and mixed-script (homoglyph) domains are rejected, never "fixed".
Messages never contain the address itself.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import idna

MAX_EMAIL_CHARS = 254  # RFC 5321 path limit
MAX_LOCAL_CHARS = 64
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LOCAL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_DISPLAY_NAME = re.compile(r"[<>\"(),;:\[\]\\]")
# Unicode categories that have no place in an address: controls, format characters (zero-width
# space, joiners, bidi overrides), separators, surrogates, private use and unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cs", "Co", "Cn"})
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN"})
# Cyrillic and Greek letters that look like Latin ones; a label written only in them is a
# whole-script homoglyph of a Latin name (UTS #39 "whole-script confusable").
_LATIN_LOOKALIKES = frozenset("аеорсухіјѕԁӏһԛԝаοαρτνκιυ")
_LOCALHOST = frozenset({"localhost", "localdomain", "local", "invalid", "test", "example"})
_MAILTO = "mailto:"


class InvalidEmail(ValueError):
    """The address cannot be used; the message says why without repeating the address."""


def _check_safe(text: str) -> None:
    # Printable ASCII without a space holds none of them (the common address; no per-character
    # lookup). Any other text is checked character by character.
    if text.isascii() and text.isprintable() and " " not in text:
        return
    for char in text:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            raise InvalidEmail(f"contains an invisible or control character (U+{ord(char):04X})")


def _scripts(label: str) -> set[str]:
    scripts: set[str] = set()
    for char in label:
        if char.isalpha():
            script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
            scripts.add(script)
    return scripts


def _check_homoglyphs(domain: str) -> None:
    for label in domain.split("."):
        if label.isascii():
            continue
        scripts = _scripts(label) & _CONFUSABLE_SCRIPTS
        if len(scripts) > 1:
            raise InvalidEmail("the domain mixes scripts (a homoglyph of another domain)")
        letters = [char for char in label if char.isalpha()]
        if scripts and "LATIN" not in scripts and all(c in _LATIN_LOOKALIKES for c in letters):
            raise InvalidEmail("the domain is spelled in look-alike letters of another script")


# A host name already in its canonical form: lower-case letters, digits and inner hyphens,
# at most 63 per label, and no label with hyphens in 3rd and 4th place (``xn--`` and the other
# forms IDNA 2008 reserves). UTS #46 maps such a name to itself, so it skips the IDNA round trip
# (~90 µs, nearly all of a first sight of an address); ``tests/pipeline/test_email.py`` checks
# that the round trip agrees on every name this matches.
_LDH_LABEL = r"(?!..--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_CANONICAL_HOST = re.compile(rf"{_LDH_LABEL}(?:\.{_LDH_LABEL})+")


def _canonical_domain(domain: str) -> str:
    if not domain or domain.startswith("[") or domain.endswith("."):
        raise InvalidEmail("the domain must be a plain host name")
    if _CANONICAL_HOST.fullmatch(domain):
        unicode_form = ascii_form = domain
    else:
        ascii_form, unicode_form = idna_forms(domain)
    labels = ascii_form.split(".")
    if len(labels) < 2:
        raise InvalidEmail("the domain has no dot")
    if ascii_form in _LOCALHOST or labels[-1] in _LOCALHOST:
        raise InvalidEmail("the domain is reserved (localhost, .test, .invalid, ...)")
    if labels[-1].isdigit() or len(ascii_form) > 253:
        raise InvalidEmail("the domain is not a host name")
    return unicode_form


def idna_forms(domain: str) -> tuple[str, str]:
    """The ASCII (``xn--``) and Unicode forms of a lower-cased domain, through IDNA (UTS #46);
    raises ``InvalidEmail`` for a look-alike or invalid name."""
    _check_homoglyphs(domain)
    try:
        ascii_form = idna.encode(domain, uts46=True).decode("ascii")
        unicode_form: str = idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise InvalidEmail("the domain is not a valid internationalised host name") from exc
    return ascii_form, unicode_form


@lru_cache(maxsize=8192)
def normalize_email(raw: str) -> str:
    """The canonical form of an address; raises ``InvalidEmail`` (never anything else)."""
    text = unicodedata.normalize("NFC", raw.strip())
    if text[: len(_MAILTO)].lower() == _MAILTO:
        text = text[len(_MAILTO) :].strip()
    if not text:
        raise InvalidEmail("empty")
    if len(text) > MAX_EMAIL_CHARS:
        raise InvalidEmail(f"longer than {MAX_EMAIL_CHARS} characters")
    if _DISPLAY_NAME.search(text):
        raise InvalidEmail("display-name forms and quoted parts are not accepted")
    _check_safe(text)
    if text.count("@") != 1:
        raise InvalidEmail("an address needs exactly one @")
    local, domain = unicodedata.normalize("NFC", text.lower()).split("@")
    if not 0 < len(local) <= MAX_LOCAL_CHARS or not _LOCAL.fullmatch(local):
        raise InvalidEmail("the part before @ is not a valid mailbox name")
    address = f"{local}@{_canonical_domain(domain)}"
    if len(address) > MAX_EMAIL_CHARS:
        raise InvalidEmail(f"longer than {MAX_EMAIL_CHARS} characters")
    return address
