"""Segment-spec events (identify, track, page; alias/group/screen are tolerated and ignored).

Decoding happens in two steps so that the common case stays cheap. ``decode`` parses the bytes
with orjson and checks only what every event needs (type, ids, event name, container types);
most events (page views, unmapped tracks) never need more. ``validate`` builds the full pydantic
model, and is called only for events that can become a lead or change a profile. Both return a
``Drop(malformed)`` instead of raising: a malformed record is a value, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from leadgate.domain.outcome import Drop
from leadgate.domain.profile import identity_keys
from leadgate.domain.reasons import DropReason

MAX_EVENT_BYTES = 32 * 1024  # Segment's per-event limit
MAX_NAME_CHARS = 200
EVENT_TYPES = frozenset({"identify", "track", "page", "alias", "group", "screen"})
IGNORED_TYPES = frozenset({"alias", "group", "screen"})
_CONTAINERS = ("context", "traits", "properties")

_STRICT = ConfigDict(extra="ignore", frozen=True, strict=True)


class Context(BaseModel):
    """The parts of ``context`` leadgate reads (the rest is kept in the raw record)."""

    model_config = _STRICT

    traits: dict[str, Any] = Field(default_factory=dict)
    consent: Any = None


class _Event(BaseModel):
    model_config = _STRICT

    messageId: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    context: Context = Field(default_factory=Context)
    timestamp: str | None = None
    sentAt: str | None = None
    originalTimestamp: str | None = None
    receivedAt: str | None = None

    @property
    def identities(self) -> tuple[str, ...]:
        """The profile keys of this event (``user:<id>`` first, then ``anon:<id>``)."""
        return identity_keys(self.userId, self.anonymousId)


class IdentifyEvent(_Event):
    """``identify``: who the visitor is (traits) and, often, what they consented to."""

    type: Literal["identify"]
    traits: dict[str, Any] = Field(default_factory=dict)


class TrackEvent(_Event):
    """``track``: something the visitor did (``event``), with ``properties``."""

    type: Literal["track"]
    event: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    properties: dict[str, Any] = Field(default_factory=dict)


class PageEvent(_Event):
    """``page``: a page view. Never a lead; it may still carry consent."""

    type: Literal["page"]
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class IgnoredEvent(_Event):
    """``alias``, ``group`` and ``screen``: accepted by the collector, ignored here."""

    type: Literal["alias", "group", "screen"]


Event = Annotated[
    IdentifyEvent | TrackEvent | PageEvent | IgnoredEvent, Field(discriminator="type")
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class EventHead:
    """The cheaply checked head of an event: enough to route it and to find its profile."""

    data: dict[str, Any]
    type: str
    name: str | None
    message_id: str | None
    user_id: str | None
    anonymous_id: str | None
    received_at: str | None

    @property
    def identities(self) -> tuple[str, ...]:
        """The profile keys of this event (``user:<id>`` first, then ``anon:<id>``)."""
        return identity_keys(self.user_id, self.anonymous_id)


def _malformed(detail: str) -> Drop:
    return Drop(DropReason.MALFORMED, detail)


def _optional_str(data: dict[str, Any], key: str) -> str | Drop | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return _malformed(f"{key} must be a string, not {type(value).__name__}")
    return value


def _check_body(kind: str, data: dict[str, Any]) -> str | Drop | None:
    """Container types and the track event name; returns the event name (track only)."""
    for key in _CONTAINERS:
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            return _malformed(f"{key} must be an object, not {type(value).__name__}")
    if kind != "track":
        return None
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        return _malformed("a track event needs an event name")
    if len(name) > MAX_NAME_CHARS:
        return _malformed(f"event name is longer than {MAX_NAME_CHARS} characters")
    return name


def decode(raw: bytes) -> EventHead | Drop:
    """Parse one record and check its head; never raises."""
    if len(raw) > MAX_EVENT_BYTES:
        return _malformed(f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _malformed("not valid JSON (or not UTF-8)")
    if not isinstance(data, dict):
        return _malformed(f"an event must be a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str):
        return _malformed("no type (expected identify, track or page)")
    if kind not in EVENT_TYPES:
        return _malformed(f"unknown type {kind[:40]!r}")
    ids: dict[str, str | None] = {}
    for key in ("messageId", "userId", "anonymousId"):
        value = _optional_str(data, key)
        if isinstance(value, Drop):
            return value
        ids[key] = value
    if ids["userId"] is None and ids["anonymousId"] is None:
        return _malformed("neither userId nor anonymousId")
    name = _check_body(kind, data)
    if isinstance(name, Drop):
        return name
    received = data.get("receivedAt")
    return EventHead(
        data=data,
        type=kind,
        name=name,
        message_id=ids["messageId"],
        user_id=ids["userId"],
        anonymous_id=ids["anonymousId"],
        received_at=received if isinstance(received, str) else None,
    )


def validate(head: EventHead) -> IdentifyEvent | TrackEvent | PageEvent | IgnoredEvent | Drop:
    """Build the full event model from a decoded head; a type error becomes ``Drop(malformed)``."""
    try:
        return _EVENT_ADAPTER.validate_python(head.data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "event"
        return _malformed(f"{where}: {first['msg']}")


def parse_event(raw: bytes) -> IdentifyEvent | TrackEvent | PageEvent | IgnoredEvent | Drop:
    """Decode and fully validate one record; never raises."""
    head = decode(raw)
    if isinstance(head, Drop):
        return head
    return validate(head)
