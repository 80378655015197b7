"""Segment-spec events (identify, track, page; alias/group/screen are tolerated and ignored).

Decoding happens in two steps so that the common case stays cheap. ``decode`` parses the bytes
with orjson and checks only what every event needs (type, ids, event name, container types);
most events (page views, unmapped tracks) never need more. ``validate`` builds the full pydantic
model, and is called only for events that can become a lead or change a profile. Both return a
``Drop(malformed)`` instead of raising: a malformed record is a value, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal, NamedTuple, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from leadgate.domain.outcome import Drop
from leadgate.domain.profile import identity_keys
from leadgate.domain.reasons import DropReason

MAX_EVENT_BYTES = 32 * 1024  # Segment's per-event limit
MAX_NAME_CHARS = 200
EVENT_TYPES = frozenset({"identify", "track", "page", "alias", "group", "screen"})
# The fields that must be objects when present (the collector refuses others at once).
CONTAINERS = ("context", "traits", "properties")

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


class EventHead(NamedTuple):
    """The cheaply checked head of an event: enough to route it and to find its profile.

    A NamedTuple, not a frozen dataclass: it is built for every event, and a frozen
    dataclass costs about as much to build as orjson takes to parse the event.
    """

    data: dict[str, Any]
    type: str
    name: str | None
    message_id: str | None
    user_id: str | None
    anonymous_id: str | None
    received_at: str | None
    identities: tuple[str, ...]  # the profile keys, as ``profile.identity_keys`` builds them


_tuple_new = tuple.__new__

HeadFields = tuple[
    dict[str, Any], str, str | None, str | None, str | None, str | None, str | None, tuple[str, ...]
]
# ``EventHead(...)`` from its eight fields as one tuple, in field order (data, type, name,
# message_id, user_id, anonymous_id, received_at, identities), the one place that knows it.
# A partial of ``tuple.__new__``, not a function: it skips NamedTuple's Python-level ``__new__``
# (a third of ``decode``'s cost) and also the Python call a wrapper function would add (about
# 400 instructions per event, bench P1). The tests check the order against ``EventHead``.
fast_head = cast("Callable[[HeadFields], EventHead]", partial(_tuple_new, EventHead))


def _malformed(detail: str) -> Drop:
    return Drop(DropReason.MALFORMED, detail)


def _wrong_id(data: dict[str, Any]) -> Drop | None:
    for key in ("messageId", "userId", "anonymousId"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            return _malformed(f"{key} must be a string, not {type(value).__name__}")
    if not data.get("userId") and not data.get("anonymousId"):
        return _malformed("neither userId nor anonymousId")
    return None


def wrong_container(data: dict[str, Any]) -> str | None:
    """The first of :data:`CONTAINERS` present with a value that is not an object, if any."""
    for key in CONTAINERS:
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            return key
    return None


def _diagnose(data: object) -> Drop:
    """Why the fast path in ``decode`` refused a parsed record (the slow, explaining path)."""
    if not isinstance(data, dict):
        return _malformed(f"an event must be a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str):
        return _malformed("no type (expected identify, track or page)")
    if kind not in EVENT_TYPES:
        return _malformed(f"unknown type {kind[:40]!r}")
    wrong = _wrong_id(data)
    if wrong is not None:
        return wrong
    container = wrong_container(data)
    if container is not None:
        return _malformed(f"{container} must be an object, not {type(data[container]).__name__}")
    if kind == "track":
        name = data.get("event")
        if not isinstance(name, str) or not name.strip():
            return _malformed("a track event needs an event name")
        if len(name) > MAX_NAME_CHARS:
            return _malformed(f"event name is longer than {MAX_NAME_CHARS} characters")
    return _malformed("unreadable event")


_TEXT_OR_NONE = frozenset({str, type(None)})
_OBJECT_OR_NONE = frozenset({dict, type(None)})


def decode(raw: bytes) -> EventHead | Drop:
    """Parse one record and check its head; never raises.

    This runs for every event, so the checks are written for speed (exact class checks against
    frozensets, no per-field helpers); anything unexpected goes to ``_diagnose`` for a precise
    detail.
    """
    if len(raw) > MAX_EVENT_BYTES:
        return _malformed(f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _malformed("not valid JSON (or not UTF-8)")
    if data.__class__ is not dict:
        return _diagnose(data)
    get = data.get
    kind = get("type")
    message_id = get("messageId")
    user_id = get("userId")
    anonymous_id = get("anonymousId")
    if not (
        kind.__class__ is str
        and kind in EVENT_TYPES
        and message_id.__class__ in _TEXT_OR_NONE
        and user_id.__class__ in _TEXT_OR_NONE
        and anonymous_id.__class__ in _TEXT_OR_NONE
        and (user_id or anonymous_id)
        and get("context").__class__ in _OBJECT_OR_NONE
        and get("traits").__class__ in _OBJECT_OR_NONE
        and get("properties").__class__ in _OBJECT_OR_NONE
    ):
        return _diagnose(data)
    name = None
    if kind == "track":
        name = get("event")
        if name.__class__ is not str or not name.strip() or len(name) > MAX_NAME_CHARS:
            return _diagnose(data)
    received = get("receivedAt")
    return fast_head(
        (
            data,
            kind,
            name,
            message_id or None,
            user_id or None,
            anonymous_id or None,
            received if received.__class__ is str else None,
            identity_keys(user_id, anonymous_id),
        )
    )


_STAMPS = ("timestamp", "sentAt", "originalTimestamp", "receivedAt")
_NO_FIELDS: dict[str, Any] = {}  # shared by every event without the field; nobody mutates it


class Fields(NamedTuple):
    """The containers ``validate`` would check, read straight from a decoded event."""

    context_traits: dict[str, Any]
    consent: object  # raw ``context.consent``, None when absent
    traits: dict[str, Any]
    properties: dict[str, Any]


def fast_fields(
    context_traits: dict[str, Any],
    consent: object,
    traits: dict[str, Any],
    properties: dict[str, Any],
) -> Fields:
    """``Fields(...)`` without NamedTuple's Python-level ``__new__``, in field order."""
    found: Fields = _tuple_new(Fields, (context_traits, consent, traits, properties))
    return found


def fields(head: EventHead) -> Fields | None:
    """The event's containers when ``validate`` would accept it, else None (then call
    ``validate`` for the reason). Cheap: a few exact class checks instead of a pydantic model.

    ``decode`` already checked the type, the ids and that ``traits``/``properties`` are objects;
    the models also refuse a ``null`` container, a non-object ``context.traits``, a non-text
    timestamp, and (strict) a track name that is not text (also checked by ``decode``).
    """
    data = head.data
    get = data.get
    context = get("context", _NO_FIELDS)
    traits = get("traits", _NO_FIELDS)
    properties = get("properties", _NO_FIELDS)
    if context.__class__ is not dict or traits.__class__ is not dict:
        return None
    if properties.__class__ is not dict:
        return None
    context_traits = context.get("traits", _NO_FIELDS)
    if context_traits.__class__ is not dict:
        return None
    for stamp in _STAMPS:
        if get(stamp).__class__ not in _TEXT_OR_NONE:
            return None
    consent = context.get("consent")
    return fast_fields(context_traits, consent, traits, properties)


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
