"""classify(): every status maps to one documented action (reliability.md §V, P23)."""

from __future__ import annotations

import orjson
import pytest

from leadgate.domain.reasons import DeadLetterReason
from leadgate.outreach.classify import Verdict, classify, sanitize

JSON = {"Content-Type": "application/vnd.api+json"}


def _error(error_id: str, detail: str, pointer: str | None = "/data") -> bytes:
    error: dict[str, object] = {"id": error_id, "title": "T", "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return orjson.dumps({"errors": [error]})


PROSPECT = orjson.dumps({"data": {"type": "prospect", "id": 7, "attributes": {}}})


@pytest.mark.parametrize(
    ("status", "headers", "body", "verdict", "reason"),
    [
        (200, JSON, PROSPECT, Verdict.OK, None),
        (201, JSON, PROSPECT, Verdict.OK, None),
        (200, JSON, b'{"data": []}', Verdict.OK, None),
        (204, {}, b"", Verdict.OK, None),
        (200, {"Content-Type": "text/html"}, b"<html>proxy</html>", Verdict.AMBIGUOUS, None),
        (201, JSON, b'{"data": {"type": "prospect"}}', Verdict.AMBIGUOUS, None),
        (201, JSON, b"{not json", Verdict.AMBIGUOUS, None),
        (301, {"Location": "https://elsewhere"}, b"", Verdict.DEAD_LETTER, "vendor_permanent"),
        (400, JSON, _error("permittedParams.unknownAttribute", "x"), Verdict.DEAD_LETTER,
         "vendor_validation"),
        (401, {"Content-Type": "text/plain"}, b"Invalid access token", Verdict.REFRESH, None),
        (403, JSON, _error("unauthorizedOauthScope", "scope 'prospects.write'"), Verdict.STOP,
         None),
        (404, JSON, _error("resourceNotFound", "Could not find 'prospect'"), Verdict.NOT_FOUND,
         None),
        (404, JSON, _error("routeNotFound", "no route"), Verdict.STOP, None),
        (408, {}, b"", Verdict.RETRY, None),
        (409, JSON, _error("conflict", "type mismatch"), Verdict.DEAD_LETTER, "vendor_conflict"),
        (413, {}, b"", Verdict.DEAD_LETTER, "vendor_permanent"),
        (415, JSON, _error("unsupportedMediaType", "x", None), Verdict.STOP, None),
        (422, JSON, _error("validationError", "Contacts email hash has already been taken."),
         Verdict.EMAIL_TAKEN, None),
        (422, JSON,
         _error("validationError", "Contacts contact is using an excluded email address."),
         Verdict.DEAD_LETTER, "excluded_domain"),
        (422, JSON, _error("validationDuplicateValueError", "A Contact with this email_hash"),
         Verdict.NO_CHANGE, None),
        (422, JSON, _error("validationError", "Data provided is too long."), Verdict.DEAD_LETTER,
         "vendor_validation"),
        (429, JSON, _error("rateLimitExceeded", "try later"), Verdict.RATE_LIMITED, None),
        (500, JSON, b"", Verdict.RETRY, None),
        (502, {"Content-Type": "text/html"}, b"<html>", Verdict.RETRY, None),
        (503, JSON, _error("scheduledServerMaintenance", "x"), Verdict.RETRY, None),
        (504, {}, b"", Verdict.RETRY, None),
        (501, {}, b"", Verdict.DEAD_LETTER, "vendor_permanent"),
        (505, {}, b"", Verdict.DEAD_LETTER, "vendor_permanent"),
        (418, {}, b"", Verdict.DEAD_LETTER, "vendor_permanent"),
        (100, {}, b"", Verdict.AMBIGUOUS, None),
    ],
)  # fmt: skip
def test_status_table(
    status: int, headers: dict[str, str], body: bytes, verdict: Verdict, reason: str | None
) -> None:
    """Each documented Outreach answer gets the action reliability.md §V prescribes."""
    action = classify(status, headers, body)
    assert action.verdict is verdict
    assert (str(action.reason) if action.reason else None) == reason


def test_every_status_has_exactly_one_action() -> None:
    """No status from 0 to 699, whatever the body, makes classify() raise or answer vaguely."""
    bodies = (b"", b"garbage", b'{"errors": "nope"}', b'{"errors": [1, {"id": 3}]}', PROSPECT)
    for status in range(700):
        for body in bodies:
            action = classify(status, JSON, body)
            assert action.verdict in set(Verdict)
            if action.verdict is Verdict.DEAD_LETTER:
                assert action.reason in set(DeadLetterReason)
            else:
                assert action.reason is None


def test_validation_message_is_sanitised() -> None:
    """A 422 that echoes the address and a token never puts either into the dead-letter reason."""
    token = "eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiIxMjM0NTY3ODkwIn0abcdef"
    body = _error("validationError", f"Email ada@acme.com is invalid for {token}", "/data/x")
    action = classify(422, JSON, body)
    assert action.reason == DeadLetterReason.VENDOR_VALIDATION
    assert "ada@acme.com" not in action.message
    assert token not in action.message
    assert "<email>" in action.message
    assert "/data/x" in action.message


def test_scope_error_says_what_to_do() -> None:
    """A missing OAuth scope stops the integration with a message naming the fix."""
    action = classify(403, JSON, _error("unauthorizedOauthScope", "needs prospects.write"))
    assert action.verdict is Verdict.STOP
    assert "leadgate auth login" in action.todo


def test_sanitize_truncates_long_vendor_text() -> None:
    """Vendor details are capped so a dead-letter header stays small."""
    assert len(sanitize("word " * 500)) <= 200
