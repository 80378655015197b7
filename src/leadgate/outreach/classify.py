"""Every HTTP status Outreach can answer maps to exactly one outcome (docs/reliability.md).

``classify(status, headers, body)`` is pure and total: any integer status, any headers, any bytes
give either an ``Answer`` the caller acts on (``OK``; and ``NOT_FOUND``, ``EMAIL_TAKEN``,
``NO_CHANGE``, which are answers, not failures of the operation) or the one ``errors`` type the
client raises, with a reason naming the failure and a message a user can act on. One
vocabulary: whether a failure is retried is the error's class (``retriable``), when it is retried
is ``outreach/retry.py``'s decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from leadgate.domain.reasons import DeadLetterReason, RetryReason
from leadgate.errors import (
    IntegrationStopped,
    LeadgateError,
    PermanentError,
    RateLimited,
    RetriableError,
    TokenRejected,
)
from leadgate.observability.masking import scrub_vendor_text

# Outreach's exact 422 details (docs/outreach-api.md).
EMAIL_TAKEN = "email hash has already been taken"
EXCLUDED_EMAIL = "using an excluded email address"
DUPLICATE_VALUE = "validationDuplicateValueError"
# A 422 naming a related record that does not exist points at it (docs/outreach-api.md).
MISSING_ACCOUNT = "Could not find 'account'"

_FIX_BASE_URL = "check LEADGATE_OUTREACH__BASE_URL"


class Verdict(StrEnum):
    """What a usable answer means to the caller."""

    OK = "ok"  # a usable 2xx
    NOT_FOUND = "not_found"  # 404 on a resource id: forget it, fall back to a lookup (V8)
    EMAIL_TAKEN = "email_taken"  # 422 email hash taken: look up and PATCH (V10)
    NO_CHANGE = "no_change"  # 422 duplicate value on a PATCH that changed nothing


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the caller acts on, with the vendor's (sanitised) words when it has any."""

    verdict: Verdict
    message: str = ""


Outcome = Answer | LeadgateError


def sanitize(text: str) -> str:
    """Vendor text made safe for logs and dead-letter headers (the one scrubber:
    ``observability.masking.scrub_vendor_text``)."""
    return scrub_vendor_text(text)


def _errors(body: bytes) -> list[dict[str, Any]]:
    """The JSON:API ``errors`` array, or [] when the body is not one."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return []
    return [e for e in doc["errors"] if isinstance(e, dict)]


def error_summary(body: bytes) -> str:
    """``id: detail (pointer)`` of the first JSON:API error, sanitised; '' when there is none."""
    errors = _errors(body)
    if not errors:
        return ""
    first = errors[0]
    detail = first.get("detail") or first.get("details") or first.get("title") or ""
    parts = [str(first.get("id") or "error"), str(detail)]
    source = first.get("source")
    text = ": ".join(p for p in parts if p)
    if isinstance(source, dict) and source.get("pointer"):
        text += f" ({source['pointer']})"
    return sanitize(text)


def _is_jsonapi(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("Content-Type", headers.get("content-type", ""))
    return "json" in content_type.lower()


def _ambiguous(message: str, status: int) -> RetriableError:
    """A 2xx (or stray status) we cannot read: the write may or may not have happened (V1, V2);
    the next attempt starts over, with a lookup before any create."""
    return RetriableError(message, reason=RetryReason.VENDOR_AMBIGUOUS, status=status)


def _permanent(message: str, reason: DeadLetterReason, status: int) -> PermanentError:
    return PermanentError(message, reason=reason, status=status)


def _success(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    if status == 204:
        return Answer(Verdict.OK)
    if not _is_jsonapi(headers):
        return _ambiguous(f"HTTP {status} with a non-JSON body (a proxy?)", status)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _ambiguous(f"HTTP {status} with an unreadable JSON body", status)
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, list):
        return Answer(Verdict.OK)
    if isinstance(data, dict) and isinstance(data.get("id"), int) and data.get("type"):
        return Answer(Verdict.OK)
    return _ambiguous(f"HTTP {status} without data.id/data.type", status)


def _unprocessable(body: bytes) -> Outcome:
    summary = error_summary(body)
    if EMAIL_TAKEN in summary:
        return Answer(Verdict.EMAIL_TAKEN, summary)
    if EXCLUDED_EMAIL in summary:
        return _permanent(
            "Outreach refuses this address: it is on the org's excluded email list "
            "(or is a domain of your own users); " + summary,
            DeadLetterReason.EXCLUDED_DOMAIN,
            422,
        )
    if DUPLICATE_VALUE in summary:
        return Answer(Verdict.NO_CHANGE, summary)
    return _permanent(
        f"Outreach rejected the document (422): {summary or 'no detail'}",
        DeadLetterReason.VENDOR_VALIDATION,
        422,
    )


def names_missing_account(error: LeadgateError) -> bool:
    """Whether Outreach refused a write because the account it links to does not exist (any
    more): the account id leadgate remembered is stale."""
    return (
        isinstance(error, PermanentError) and error.status == 422 and MISSING_ACCOUNT in str(error)
    )


def _forbidden(body: bytes) -> IntegrationStopped:
    summary = error_summary(body)
    if "unauthorizedOauthScope" in summary:
        action = "the token lacks a scope: run `leadgate auth login` and grant every scope it asks"
    else:
        action = "the Outreach user may not do this: check their role and governance settings"
    return IntegrationStopped(f"Outreach answered 403 ({summary or 'forbidden'})", action=action)


_PERMANENT_4XX = {
    400: DeadLetterReason.VENDOR_VALIDATION,
    409: DeadLetterReason.VENDOR_CONFLICT,
    413: DeadLetterReason.VENDOR_PERMANENT,
}
_BUSY_4XX = {
    408: "Outreach timed out the request (408)",
    423: "Outreach reports the resource locked (423)",
    425: "Outreach asked to retry later (425)",
}


def _client_error(status: int, body: bytes) -> Outcome:
    if status == 401:
        return TokenRejected("Outreach rejected the access token (401)")
    if status == 403:
        return _forbidden(body)
    if status == 404:
        summary = error_summary(body)
        if "routeNotFound" in summary:
            return IntegrationStopped(
                "Outreach does not know this API path (404 routeNotFound)", action=_FIX_BASE_URL
            )
        return Answer(Verdict.NOT_FOUND, summary or "not found (404)")
    if status == 422:
        return _unprocessable(body)
    if status == 429:
        # The client fills in the advised wait (it has the clock).
        return RateLimited("Outreach rate limit exceeded (429)", retry_after_s=None)
    if status == 415:
        return IntegrationStopped(
            "Outreach refused the request's media type (415)",
            action="leadgate sends application/vnd.api+json: check that no proxy rewrites requests",
        )
    if status in _BUSY_4XX:
        return RetriableError(_BUSY_4XX[status], reason=RetryReason.VENDOR_BUSY, status=status)
    summary = error_summary(body)
    reason = _PERMANENT_4XX.get(status, DeadLetterReason.VENDOR_PERMANENT)
    return _permanent(f"Outreach answered {status}: {summary or 'no detail'}", reason, status)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """The one outcome of this response (total over every integer status)."""
    if 200 <= status < 300:
        return _success(status, headers, body)
    if 300 <= status < 400:
        # Redirects are never followed (V16): a redirecting API is misconfigured or hijacked.
        return _permanent(
            f"Outreach answered a redirect ({status}); redirects are not followed: "
            + _FIX_BASE_URL,
            DeadLetterReason.VENDOR_PERMANENT,
            status,
        )
    if 400 <= status < 500:
        return _client_error(status, body)
    if status in (501, 505):
        return _permanent(
            f"Outreach does not support this request ({status})",
            DeadLetterReason.VENDOR_PERMANENT,
            status,
        )
    if 500 <= status < 600:
        summary = error_summary(body)
        return RetriableError(
            f"Outreach answered {status}: {summary or 'no detail'}",
            reason=RetryReason.VENDOR_5XX,
            status=status,
        )
    # 1xx as a final status, or a number outside HTTP: the outcome is unknown, like V1.
    return _ambiguous(f"Outreach answered an unexpected status {status}", status)
