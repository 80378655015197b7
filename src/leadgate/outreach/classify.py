"""Every HTTP status Outreach can answer maps to exactly one action (reliability.md §V).

``classify(status, headers, body)`` is pure and total: any integer status, any headers, any bytes
give a ``Verdict`` and, for failures, a message a user can act on. The client turns verdicts into
behaviour (refresh, raise ``RateLimited``, raise ``PermanentError`` ...); the upserter acts on the
few verdicts that are not failures of the operation (``NOT_FOUND``, ``EMAIL_TAKEN``, ``NO_CHANGE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from leadgate.domain.reasons import DeadLetterReason
from leadgate.observability.masking import scrub_vendor_text

# Outreach's exact 422 details (shared/outreach-api.md §2.3).
EMAIL_TAKEN = "email hash has already been taken"
EXCLUDED_EMAIL = "using an excluded email address"
DUPLICATE_VALUE = "validationDuplicateValueError"


class Verdict(StrEnum):
    """What to do with one response."""

    OK = "ok"  # a usable 2xx
    AMBIGUOUS = "ambiguous"  # 2xx we cannot read (V1, V2): retry, starting with a lookup
    REFRESH = "refresh"  # 401: refresh the token once, retry once (V5)
    RATE_LIMITED = "rate_limited"  # 429: wait until the reset (V4)
    RETRY = "retry"  # 5xx, 408, 423, 425: back off within the retry window (V14)
    NOT_FOUND = "not_found"  # 404 on a resource id: forget it, fall back to a lookup (V8)
    EMAIL_TAKEN = "email_taken"  # 422 email hash taken: look up and PATCH (V10)
    NO_CHANGE = "no_change"  # 422 duplicate value on a PATCH that changed nothing (JF mock)
    STOP = "stop"  # 403, 415, unknown route: a person must act; nothing is dead-lettered
    DEAD_LETTER = "dead_letter"  # will not succeed by retrying (V9, V11, V13, V15, V16)


@dataclass(frozen=True, slots=True)
class Action:
    """A verdict, the dead-letter reason when there is one, and a sanitised message."""

    verdict: Verdict
    reason: DeadLetterReason | None = None
    message: str = ""
    todo: str = ""  # for STOP: what a person must do


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


def _success(status: int, headers: Mapping[str, str], body: bytes) -> Action:
    if status == 204:
        return Action(Verdict.OK)
    if not _is_jsonapi(headers):
        return Action(Verdict.AMBIGUOUS, message=f"HTTP {status} with a non-JSON body (a proxy?)")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Action(Verdict.AMBIGUOUS, message=f"HTTP {status} with an unreadable JSON body")
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, list):
        return Action(Verdict.OK)
    if isinstance(data, dict) and isinstance(data.get("id"), int) and data.get("type"):
        return Action(Verdict.OK)
    return Action(Verdict.AMBIGUOUS, message=f"HTTP {status} without data.id/data.type")


def _unprocessable(body: bytes) -> Action:
    summary = error_summary(body)
    if EMAIL_TAKEN in summary:
        return Action(Verdict.EMAIL_TAKEN, message=summary)
    if EXCLUDED_EMAIL in summary:
        return Action(
            Verdict.DEAD_LETTER,
            DeadLetterReason.EXCLUDED_DOMAIN,
            "Outreach refuses this address: it is on the org's excluded email list "
            "(or is a domain of your own users); " + summary,
        )
    if DUPLICATE_VALUE in summary:
        return Action(Verdict.NO_CHANGE, message=summary)
    return Action(
        Verdict.DEAD_LETTER,
        DeadLetterReason.VENDOR_VALIDATION,
        f"Outreach rejected the document (422): {summary or 'no detail'}",
    )


def _forbidden(body: bytes) -> Action:
    summary = error_summary(body)
    if "unauthorizedOauthScope" in summary:
        action = "the token lacks a scope: run `leadgate auth login` and grant every scope it asks"
    else:
        action = "the Outreach user may not do this: check their role and governance settings"
    return Action(
        Verdict.STOP, message=f"Outreach answered 403 ({summary or 'forbidden'})", todo=action
    )


_CLIENT_ERRORS: dict[int, Action] = {
    400: Action(Verdict.DEAD_LETTER, DeadLetterReason.VENDOR_VALIDATION),
    408: Action(Verdict.RETRY, message="Outreach timed out the request (408)"),
    409: Action(Verdict.DEAD_LETTER, DeadLetterReason.VENDOR_CONFLICT),
    413: Action(Verdict.DEAD_LETTER, DeadLetterReason.VENDOR_PERMANENT),
    415: Action(
        Verdict.STOP,
        message="Outreach refused the request's media type (415)",
        todo="leadgate sends application/vnd.api+json: check that no proxy rewrites requests",
    ),
    423: Action(Verdict.RETRY, message="Outreach reports the resource locked (423)"),
    425: Action(Verdict.RETRY, message="Outreach asked to retry later (425)"),
}


def _client_error(status: int, body: bytes) -> Action:
    if status == 401:
        return Action(Verdict.REFRESH, message="Outreach rejected the access token (401)")
    if status == 403:
        return _forbidden(body)
    if status == 404:
        summary = error_summary(body)
        if "routeNotFound" in summary:
            return Action(
                Verdict.STOP,
                message="Outreach does not know this API path (404 routeNotFound)",
                todo="check LEADGATE_OUTREACH__BASE_URL",
            )
        return Action(Verdict.NOT_FOUND, message=summary or "not found (404)")
    if status == 422:
        return _unprocessable(body)
    if status == 429:
        return Action(Verdict.RATE_LIMITED, message="Outreach rate limit exceeded (429)")
    known = _CLIENT_ERRORS.get(status)
    summary = error_summary(body)
    if known is not None:
        message = known.message or f"Outreach answered {status}: {summary or 'no detail'}"
        return Action(known.verdict, known.reason, message, known.todo)
    return Action(
        Verdict.DEAD_LETTER,
        DeadLetterReason.VENDOR_PERMANENT,
        f"Outreach answered {status}: {summary or 'no detail'}",
    )


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Action:
    """The one action for this response (total over every integer status)."""
    if 200 <= status < 300:
        return _success(status, headers, body)
    if 300 <= status < 400:
        # Redirects are never followed (V16): a redirecting API is misconfigured or hijacked.
        return Action(
            Verdict.DEAD_LETTER,
            DeadLetterReason.VENDOR_PERMANENT,
            f"Outreach answered a redirect ({status}); redirects are not followed: check "
            "LEADGATE_OUTREACH__BASE_URL",
        )
    if 400 <= status < 500:
        return _client_error(status, body)
    if status in (501, 505):
        return Action(
            Verdict.DEAD_LETTER,
            DeadLetterReason.VENDOR_PERMANENT,
            f"Outreach does not support this request ({status})",
        )
    if 500 <= status < 600:
        summary = error_summary(body)
        return Action(
            Verdict.RETRY, message=f"Outreach answered {status}: {summary or 'no detail'}"
        )
    # 1xx as a final status, or a number outside HTTP: the outcome is unknown, like V1.
    return Action(Verdict.AMBIGUOUS, message=f"Outreach answered an unexpected status {status}")
