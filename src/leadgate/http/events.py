"""Collector-side checks and enrichment of one event, before it is produced to Kafka.

The collector checks what it can answer honestly at once (shape, ids, messageId, event name,
size, property count, nesting depth) by the rules the processor applies (``domain/events.py``:
the event types, the fields that must be objects; the settings' limits never exceed the
processor's), so an accepted event is never dropped as malformed later. It leaves the meaning
(consent, identity, presets) to the processor. It adds what only the server knows:
``receivedAt``, a ``messageId`` when the client sent none, and the name of the write key's
source in ``context.leadgate.source`` (never the key). The Kafka key is the anonymousId, else
the userId, so one visitor's events stay in order on one partition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from leadgate.domain.events import EVENT_TYPES, wrong_container
from leadgate.http.rejection import RejectCode, Rejection
from leadgate.settings import CollectorSettings

MAX_ID_CHARS = 255


@dataclass(frozen=True, slots=True)
class Prepared:
    """An accepted event, encoded: the Kafka key and value, and its messageId."""

    key: bytes
    value: bytes
    message_id: str


def _printable(value: object, max_chars: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_chars and value.isprintable()


def _identity(event: dict[str, Any]) -> str:
    present: list[str] = []
    for field in ("anonymousId", "userId"):
        value = event.get(field)
        if value is None or value == "":
            event.pop(field, None)
            continue
        if not _printable(value, MAX_ID_CHARS):
            raise Rejection(RejectCode.INVALID_IDENTITY)
        present.append(value)
    if not present:
        raise Rejection(RejectCode.MISSING_IDENTITY)
    return present[0]


def exceeds(value: Any, *, max_keys: int, max_depth: int) -> RejectCode | None:
    """TOO_MANY_KEYS or TOO_DEEP when ``value`` holds more object keys in all, or nests deeper,
    than allowed (one iterative walk that stops at the first excess)."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return RejectCode.TOO_DEEP
        if isinstance(node, dict):
            total += len(node)
            if total > max_keys:
                return RejectCode.TOO_MANY_KEYS
            children: Any = node.values()
        else:
            children = node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


def _check_bounds(event: dict[str, Any], value: bytes, settings: CollectorSettings) -> None:
    # An object key costs at least 4 bytes of JSON ("":0) and a level of nesting one bracket, so
    # two C-speed counts over the encoded record spare almost every event the walk.
    brackets = value.count(b"{") + value.count(b"[")
    if brackets <= settings.max_json_depth and len(value) <= 4 * settings.max_event_keys:
        return
    code = exceeds(event, max_keys=settings.max_event_keys, max_depth=settings.max_json_depth)
    if code is not None:
        raise Rejection(code)


def _check(event: dict[str, Any], settings: CollectorSettings) -> None:
    if event.get("type") not in EVENT_TYPES:
        raise Rejection(RejectCode.INVALID_TYPE)
    message_id = event.get("messageId")
    if message_id is not None and not _printable(message_id, settings.max_message_id_chars):
        raise Rejection(RejectCode.INVALID_MESSAGE_ID)
    if event["type"] == "track" and not (
        _printable(event.get("event"), settings.max_event_name_chars) and event["event"].strip()
    ):
        raise Rejection(RejectCode.INVALID_EVENT_NAME)
    if wrong_container(event) is not None:
        raise Rejection(RejectCode.INVALID_FIELD)


def prepare_event(
    raw: object,
    *,
    kind: str | None,
    source: str,
    received_at: str,
    settings: CollectorSettings,
) -> Prepared:
    """Check and enrich one event; ``kind`` is the endpoint's type (None inside a batch).

    The size limit applies to the record as produced, enrichment included, because that is what
    the processor reads (and drops as malformed above the same limit).
    """
    if not isinstance(raw, dict):
        raise Rejection(RejectCode.INVALID_SHAPE)
    event = dict(raw)
    event.pop("writeKey", None)
    if kind is not None:
        event["type"] = kind  # the endpoint decides, as in Segment's Tracking API
    _check(event, settings)
    partition_key = _identity(event)
    if event.get("messageId") is None:
        event["messageId"] = str(uuid.uuid4())
    context = dict(event.get("context") or {})
    context["leadgate"] = {"source": source}
    event["context"] = context
    event["receivedAt"] = received_at
    try:
        value = orjson.dumps(event)
    except orjson.JSONEncodeError:  # a lone surrogate in some string
        raise Rejection(RejectCode.INVALID_ENCODING) from None
    _check_bounds(event, value, settings)
    if len(value) > settings.max_event_bytes:
        raise Rejection(RejectCode.EVENT_TOO_LARGE)
    return Prepared(partition_key.encode("utf-8"), value, event["messageId"])
