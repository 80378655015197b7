"""Why the collector refused a request or one event of a batch: a closed set of codes.

A rejection is the one error type of the collector's handlers; it turns into the JSON body
``{"success": false, "error": {"code": ..., "message": ...}}`` with its HTTP status. Messages are
constant per code and never echo the input (docs/reliability.md H1).
"""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web


class RejectCode(StrEnum):
    """Machine-readable reasons, the ``error.code`` of a response or of a batch entry."""

    INVALID_JSON = "invalid_json"
    INVALID_SHAPE = "invalid_shape"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_NUMBER = "invalid_number"
    DUPLICATE_KEY = "duplicate_key"
    TOO_DEEP = "too_deep"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    EVENT_TOO_LARGE = "event_too_large"
    BATCH_TOO_LARGE = "batch_too_large"
    BATCH_EMPTY = "batch_empty"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    UNAUTHORIZED = "unauthorized"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INVALID_TYPE = "invalid_type"
    MISSING_IDENTITY = "missing_identity"
    INVALID_IDENTITY = "invalid_identity"
    INVALID_MESSAGE_ID = "invalid_message_id"
    INVALID_EVENT_NAME = "invalid_event_name"
    INVALID_FIELD = "invalid_field"
    TOO_MANY_KEYS = "too_many_keys"


_MESSAGES: dict[RejectCode, str] = {
    RejectCode.INVALID_JSON: "the body is not valid JSON",
    RejectCode.INVALID_SHAPE: "the JSON does not have the expected shape",
    RejectCode.INVALID_ENCODING: "the body is not valid UTF-8 (or holds a lone surrogate)",
    RejectCode.INVALID_NUMBER: "NaN, Infinity and oversized numbers are not accepted",
    RejectCode.DUPLICATE_KEY: "an object repeats a key",
    RejectCode.TOO_DEEP: "the JSON is nested too deeply",
    RejectCode.PAYLOAD_TOO_LARGE: "the request body is too large",
    RejectCode.EVENT_TOO_LARGE: "the event is larger than the per-event limit",
    RejectCode.BATCH_TOO_LARGE: "the batch holds more events than allowed",
    RejectCode.BATCH_EMPTY: "the batch holds no events",
    RejectCode.UNSUPPORTED_MEDIA_TYPE: "send application/json or text/plain",
    RejectCode.UNSUPPORTED_ENCODING: "send the body plain, gzip or deflate encoded",
    RejectCode.UNAUTHORIZED: "missing or unknown write key",
    RejectCode.ORIGIN_NOT_ALLOWED: "this origin may not use this write key",
    RejectCode.RATE_LIMITED: "too many requests; retry after the given delay",
    RejectCode.UNAVAILABLE: "the event store is unavailable; retry after the given delay",
    RejectCode.INVALID_TYPE: "type must be identify, track, page, screen, group or alias",
    RejectCode.MISSING_IDENTITY: "an event needs a userId or an anonymousId",
    RejectCode.INVALID_IDENTITY: "userId and anonymousId must be short printable strings",
    RejectCode.INVALID_MESSAGE_ID: "messageId must be a printable string of at most 100 chars",
    RejectCode.INVALID_EVENT_NAME: "a track event needs a printable event name of <= 200 chars",
    RejectCode.INVALID_FIELD: "context, traits and properties must be objects",
    RejectCode.TOO_MANY_KEYS: "the event holds too many properties",
}

_STATUS: dict[RejectCode, int] = {
    RejectCode.PAYLOAD_TOO_LARGE: 413,
    RejectCode.EVENT_TOO_LARGE: 413,
    RejectCode.UNSUPPORTED_MEDIA_TYPE: 415,
    RejectCode.UNSUPPORTED_ENCODING: 415,
    RejectCode.UNAUTHORIZED: 401,
    RejectCode.ORIGIN_NOT_ALLOWED: 403,
    RejectCode.RATE_LIMITED: 429,
    RejectCode.UNAVAILABLE: 503,
}


def message_of(code: RejectCode) -> str:
    """The constant, input-free message of ``code``."""
    return _MESSAGES[code]


class Rejection(Exception):
    """The collector refuses the request with ``code`` (status from the code, default 400)."""

    def __init__(self, code: RejectCode, *, retry_after_s: int | None = None) -> None:
        super().__init__(code.value)
        self.code = code
        self.status = _STATUS.get(code, 400)
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return f"Rejection({self.code.value!r}, status={self.status})"

    def to_response(self) -> web.Response:
        """The JSON error response; 429 and 503 carry ``Retry-After``."""
        response = web.json_response(
            {
                "success": False,
                "error": {"code": self.code.value, "message": message_of(self.code)},
            },
            status=self.status,
        )
        if self.retry_after_s is not None:
            response.headers["Retry-After"] = str(self.retry_after_s)
        return response
