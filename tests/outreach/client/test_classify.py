"""classify(): every status maps to one documented action (docs/reliability.md, V-series)."""

from __future__ import annotations

import orjson
import pytest

from leadgate.domain.reasons import DeadLetterReason, RetryReason
from leadgate.errors import (
    IntegrationStopped,
    LeadgateError,
    PermanentError,
    RateLimited,
    RetriableError,
    TokenRejected,
)
from leadgate.outreach.classify import Answer, Verdict, classify, names_missing_account, sanitize

JSON = {"Content-Type": "application/vnd.api+json"}


def _error(error_id: str, detail: str, pointer: str | None = "/data") -> bytes:
    error: dict[str, object] = {"id": error_id, "title": "T", "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return orjson.dumps({"errors": [error]})


PROSPECT = orjson.dumps({"data": {"type": "prospect", "id": 7, "attributes": {}}})


AMBIGUOUS = (RetriableError, "vendor_ambiguous")
PERMANENT = PermanentError
STOP = (IntegrationStopped, None)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "reason"),
    [
        (200, JSON, PROSPECT, Verdict.OK, None),
        (201, JSON, PROSPECT, Verdict.OK, None),
        (200, JSON, b'{"data": []}', Verdict.OK, None),
        (204, {}, b"", Verdict.OK, None),
        (200, {"Content-Type": "text/html"}, b"<html>proxy</html>", *AMBIGUOUS),
        (201, JSON, b'{"data": {"type": "prospect"}}', *AMBIGUOUS),
        (201, JSON, b"{not json", *AMBIGUOUS),
        (301, {"Location": "https://elsewhere"}, b"", PERMANENT, "vendor_permanent"),
        (400, JSON, _error("permittedParams.unknownAttribute", "x"), PERMANENT,
         "vendor_validation"),
        (401, {"Content-Type": "text/plain"}, b"Invalid access token", TokenRejected, None),
        (403, JSON, _error("unauthorizedOauthScope", "scope 'prospects.write'"), *STOP),
        (404, JSON, _error("resourceNotFound", "Could not find 'prospect'"), Verdict.NOT_FOUND,
         None),
        (404, JSON, _error("routeNotFound", "no route"), *STOP),
        (408, {}, b"", RetriableError, "vendor_busy"),
        (409, JSON, _error("conflict", "type mismatch"), PERMANENT, "vendor_conflict"),
        (413, {}, b"", PERMANENT, "vendor_permanent"),
        (415, JSON, _error("unsupportedMediaType", "x", None), *STOP),
        (422, JSON, _error("validationError", "Contacts email hash has already been taken."),
         Verdict.EMAIL_TAKEN, None),
        (422, JSON,
         _error("validationError", "Contacts contact is using an excluded email address."),
         PERMANENT, "excluded_domain"),
        (422, JSON, _error("validationDuplicateValueError", "A Contact with this email_hash"),
         Verdict.NO_CHANGE, None),
        (422, JSON, _error("validationError", "Data provided is too long."), PERMANENT,
         "vendor_validation"),
        (423, {}, b"", RetriableError, "vendor_busy"),
        (429, JSON, _error("rateLimitExceeded", "try later"), RateLimited, "rate_limited"),
        (500, JSON, b"", RetriableError, "vendor_5xx"),
        (502, {"Content-Type": "text/html"}, b"<html>", RetriableError, "vendor_5xx"),
        (503, JSON, _error("scheduledServerMaintenance", "x"), RetriableError, "vendor_5xx"),
        (504, {}, b"", RetriableError, "vendor_5xx"),
        (501, {}, b"", PERMANENT, "vendor_permanent"),
        (505, {}, b"", PERMANENT, "vendor_permanent"),
        (418, {}, b"", PERMANENT, "vendor_permanent"),
        (100, {}, b"", *AMBIGUOUS),
    ],
)  # fmt: skip
def test_status_table(
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: Verdict | type[LeadgateError],
    reason: str | None,
) -> None:
    """Each documented Outreach answer gets one outcome: an answer the caller acts on, or the
    error the client raises, with a reason naming the failure."""
    outcome = classify(status, headers, body)
    if isinstance(expected, Verdict):
        assert isinstance(outcome, Answer)
        assert outcome.verdict is expected
        return
    assert type(outcome) is expected
    assert getattr(outcome, "reason", None) == reason


def test_every_status_has_exactly_one_outcome() -> None:
    """No status from 0 to 699, whatever the body, makes classify() raise or answer vaguely:
    every failure is an error of the tree, with a reason from the closed sets."""
    bodies = (b"", b"garbage", b'{"errors": "nope"}', b'{"errors": [1, {"id": 3}]}', PROSPECT)
    reasons = {str(r) for r in DeadLetterReason} | {str(r) for r in RetryReason}
    for status in range(700):
        for body in bodies:
            outcome = classify(status, JSON, body)
            if isinstance(outcome, Answer):
                assert outcome.verdict in set(Verdict)
            elif isinstance(outcome, RetriableError | PermanentError):
                assert outcome.reason in reasons
                assert outcome.retriable is isinstance(outcome, RetriableError)
            else:
                assert isinstance(outcome, IntegrationStopped | TokenRejected)


def test_validation_message_is_sanitised() -> None:
    """A 422 that echoes the address and a token never puts either into the dead-letter reason."""
    token = "eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiIxMjM0NTY3ODkwIn0abcdef"
    body = _error("validationError", f"Email ada@acme.com is invalid for {token}", "/data/x")
    outcome = classify(422, JSON, body)
    assert isinstance(outcome, PermanentError)
    assert outcome.reason == DeadLetterReason.VENDOR_VALIDATION
    assert "ada@acme.com" not in outcome.message
    assert token not in outcome.message
    assert "a***@a***.com" in outcome.message
    assert "/data/x" in outcome.message


def test_a_missing_account_is_told_from_other_validation_errors() -> None:
    """A 422 naming an account that does not exist marks a stale remembered account (the
    upsert forgets it and retries); a missing user or any other 422 does not."""
    missing = _error(
        "validationError",
        "Could not find 'account' with ID '1'.",
        "/data/relationships/account",
    )
    user = _error(
        "validationError", "Could not find 'user' with ID '3'.", "/data/relationships/owner"
    )
    too_long = _error("validationError", "Data provided is too long.")
    outcomes = [classify(422, JSON, body) for body in (missing, user, too_long)]
    assert all(isinstance(outcome, PermanentError) for outcome in outcomes)
    assert [names_missing_account(outcome) for outcome in outcomes] == [True, False, False]  # type: ignore[arg-type]
    assert not names_missing_account(RetriableError("x", reason=RetryReason.VENDOR_BUSY))


def test_scope_error_says_what_to_do() -> None:
    """A missing OAuth scope stops the integration with a message naming the fix."""
    outcome = classify(403, JSON, _error("unauthorizedOauthScope", "needs prospects.write"))
    assert isinstance(outcome, IntegrationStopped)
    assert "leadgate auth login" in outcome.action


def test_sanitize_truncates_long_vendor_text() -> None:
    """Vendor details are capped so a dead-letter header stays small."""
    assert len(sanitize("word " * 500)) <= 200
