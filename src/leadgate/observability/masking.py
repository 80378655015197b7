"""Masking: what the inspector, the logs and the metrics show instead of PII and secrets.

Masking works by pattern, not only by field name (docs/reliability.md D3): an email typed into a
free-text property, a phone number in a URL query or a bearer token echoed in an error message
are found wherever they are. Field names add to the patterns (a ``phone`` trait is masked even
when it is formatted oddly, a ``client_secret`` is hidden whatever it looks like); they never
replace them.

Shapes: an email becomes ``j***@a***.com`` (first letter, first letter of the domain, top-level
domain), a phone ``+44******123`` (country prefix, last three digits), a secret ``[hidden]``.
Known secret values (the configured write keys, client secret, tokens) are also removed in
their base64 and URL-encoded forms, since that is how they leak through headers and bodies.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

HIDDEN = "[hidden]"

# The local part leaves out URL and JSON punctuation so that `?email=jane@x.com` masks as
# `email=j***@x***.com`; a stranger local part still loses everything next to the "@".
_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9._%+\-!#$'*^`~]*)"
    r"(?:@|%40)"
    r"(?P<domain>(?:[A-Za-z0-9\-_]+\.)+(?P<tld>[A-Za-z0-9\-]{2,}))",
    re.UNICODE,
)
# Seven or more digits with the usual separators; not glued to a word, a dash or a dot, so that
# UUIDs, versions and ISO dates stay readable.
_PHONE = re.compile(
    r"(?<![\w\-.:/])(?:\+|%2[Bb]|00)?\(?\d(?:(?:[\s().\-+]|%20){0,2}\d){6,16}(?![\w\-])"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access|refresh|id)_token|client_secret|password|write_?key|api_?key|code)"
    r"(\"?\s*[=:]\s*\"?)[^\s&\"',;}]+"
)
_KEY_PREFIX = re.compile(r"\b(?:sk|pk|rk|wk|lg)_(?:live_|test_)?[A-Za-z0-9]{12,}\b")
# In a vendor's error text a long run of token characters is a token echoed back more often
# than anything a reader needs.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{32,}")
MAX_VENDOR_TEXT = 200

_SECRET_NAMES = ("token", "secret", "password", "authorization", "cookie", "writekey", "apikey")
_PHONE_NAMES = ("phone", "mobile", "fax")
# Values under these keys are times and counters written by leadgate, never visitor input:
# their digit runs are not phone numbers (emails are still scanned).
_STRUCTURAL_KEYS = frozenset(
    {"receivedAt", "received_at", "at", "timestamp", "sentAt", "originalTimestamp",
     "updatedAt", "rate_limit", "latency_ms", "status", "attempt", "prospectId", "accountId"}
)  # fmt: skip


def mask_email(email: str) -> str:
    """``jane.doe@acme.com`` -> ``j***@a***.com``."""
    local, _, domain = email.strip().replace("%40", "@").rpartition("@")
    if not domain:
        return _mask_opaque(email)
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    head = local[:1] or "*"
    return f"{head}***@{domain[:1]}***" + (f".{tld}" if tld else "")


def mask_phone(phone: str) -> str:
    """``+44 20 7946 0123`` -> ``+44******123``; short numbers keep only their last two digits."""
    phone = phone.replace("%2B", "+").replace("%2b", "+").replace("%20", " ")
    digits = "".join(ch for ch in phone if ch.isdigit())
    plus = "+" if phone.strip().startswith("+") else ""
    if len(digits) < 8:
        return plus + "*" * max(len(digits) - 2, 1) + digits[-2:]
    return f"{plus}{digits[:2]}{'*' * (len(digits) - 5)}{digits[-3:]}"


def _mask_opaque(value: str) -> str:
    return value[:1] + "***" if value else value


def mask_text(text: str, *, phones: bool = True, pii: bool = True) -> str:
    """Mask every email, phone number, bearer token, JWT and ``secret=value`` pair in ``text``.

    With ``pii=False`` (revealing is configured) only the secrets go.
    """
    text = _BEARER.sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
    text = _JWT.sub(HIDDEN, text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)
    text = _KEY_PREFIX.sub(HIDDEN, text)
    if not pii:
        return text
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if phones:
        text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text


def scrub_vendor_text(text: str, max_chars: int = MAX_VENDOR_TEXT) -> str:
    """A vendor's error text made safe for logs, dead-letter headers and traces: what
    :func:`mask_text` hides plus token-like runs, on one line of at most ``max_chars``."""
    text = _TOKENISH.sub(HIDDEN, mask_text(text))
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` shows up on the wire: raw, URL-encoded, base64 (also as Basic auth)."""
    if not secret:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for raw in (secret, f"{secret}:", f":{secret}"):
        encoded = base64.b64encode(raw.encode()).decode()
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    return {form for form in forms if len(form) >= 4}


def scrub_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every known secret value (in any of its ``secret_forms``) with ``[hidden]``."""
    forms = sorted({form for secret in secrets for form in secret_forms(secret)}, key=len)
    for form in reversed(forms):  # longest first, so a prefix never leaves a tail behind
        if form in text:
            text = text.replace(form, HIDDEN)
    return text


def _hint(key: str) -> str | None:
    lowered = key.lower().replace("-", "").replace("_", "")
    if any(name in lowered for name in _SECRET_NAMES):
        return "secret"
    if any(name in lowered for name in _PHONE_NAMES):
        return "phone"
    if "email" in lowered:
        return "email"
    return None


def _mask_named(value: Any, hint: str, secrets: tuple[str, ...], pii: bool) -> Any:
    """Mask ``value`` knowing what its field name says it is."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, list | tuple):
        return [_mask_named(item, hint, secrets, pii) for item in value]
    if isinstance(value, Mapping):
        return mask_value(value, secrets=secrets, pii=pii)
    if hint == "secret":
        return HIDDEN
    if hint == "phone" and pii and isinstance(value, str | int):
        return mask_phone(str(value))
    if hint == "email" and pii and isinstance(value, str) and "@" in value:
        return mask_email(value)
    return mask_value(value, secrets=secrets, pii=pii)


def mask_value(
    value: Any, *, secrets: Iterable[str] = (), phones: bool = True, pii: bool = True
) -> Any:
    """A copy of a JSON-like ``value`` with PII masked and secrets hidden, keys included.

    ``secrets`` are known secret values to remove wherever they appear; ``pii=False`` keeps
    emails and phones (revealing is configured) but still hides every secret.
    """
    known = tuple(secrets)
    if isinstance(value, str):
        text = scrub_secrets(value, known) if known else value
        return mask_text(text, phones=phones, pii=pii)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text_key = scrub_secrets(str(key), known) if known else str(key)
            name = mask_text(text_key, pii=pii)
            hint = _hint(str(key))
            if hint is not None:
                out[name] = _mask_named(item, hint, known, pii)
            else:
                keep_digits = not phones or str(key) in _STRUCTURAL_KEYS
                out[name] = mask_value(item, secrets=known, phones=not keep_digits, pii=pii)
        return out
    if isinstance(value, list | tuple):
        return [mask_value(item, secrets=known, phones=phones, pii=pii) for item in value]
    return value
