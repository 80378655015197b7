"""One event's trace, folded from the records the processor and the delivery worker publish.

Folding is order-independent: the delivery worker's record may arrive before the processor's
(they are produced by different workers), and a retried delivery publishes several records.
The final outcome is the newest *final* delivery record (delivered, dead_lettered, dropped);
failing that, a pending delivery (a retry is scheduled); failing that, the processor's verdict
(dropped, or pending until delivery reports).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from leadgate.domain.times import epoch_seconds
from leadgate.pipeline.email import InvalidEmail
from leadgate.pipeline.email import normalize_email as canonical_email
from leadgate.pipeline.privacy import email_identifier

_FINAL = ("delivered", "dead_lettered", "dropped")
_DELIVERY_STATUS = {
    "delivered": "pass",
    "pending": "warn",
    "dead_lettered": "drop",
    "dropped": "drop",
}


def normalize_email(email: str) -> str:
    """The form emails are matched on: the pipeline's own normalisation, so a search finds an
    event's trace however the address was written; text that is no valid address (a raw trait
    the processor refused) is matched trimmed and in lower case."""
    try:
        return canonical_email(email)
    except InvalidEmail:
        return email.strip().lower()


parse_time = epoch_seconds  # the inspector's filters and a trace's receivedAt


@dataclass
class TraceEntry:
    """Everything the inspector knows of one messageId."""

    message_id: str
    first_seen: float
    updated: float = 0.0
    processor: dict[str, Any] | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    raw: bytes | None = None
    email: str | None = None
    email_key: str | None = None
    # The processor dropped this event as a forgotten person's: nothing of it is kept.
    suppressed: bool = False
    _event: dict[str, Any] | None = field(default=None, repr=False)

    # -- folding -------------------------------------------------------------------------------

    def fold(self, record: dict[str, Any], now: float) -> None:
        """Take in one record from the traces topic."""
        self.updated = now
        if record.get("stage") == "delivery":
            self.deliveries.append(record)
            return
        self.processor = record
        if record.get("suppressed") is True:
            self.suppressed = True
            self.raw = None
            self._event = None
            self.email = self.email_key = None
            return
        normalized = record.get("normalized")
        if isinstance(normalized, dict) and isinstance(normalized.get("email"), str):
            self.email = normalize_email(normalized["email"])
            self.email_key = None  # the store re-derives it

    def set_raw(self, raw: bytes, now: float) -> None:
        """Take in the raw event record from the events topic (not a forgotten person's)."""
        if self.suppressed:
            self.updated = max(self.updated, now)
            return
        self.raw = raw
        self.updated = max(self.updated, now)
        self._event = None
        if self.email is None:
            email = _raw_email(self.event_json)
            if email:
                self.email = normalize_email(email)

    def identifiers(self) -> tuple[str, ...]:
        """Who this event is about (``email:…``, ``user:…``, ``anon:…``), for forgetting."""
        found: list[str] = []
        if self.email:
            found.append(email_identifier(self.email))
        event = self.event_json
        for prefix, name in (("user", "userId"), ("anon", "anonymousId")):
            value = event.get(name)
            if isinstance(value, str) and value:
                found.append(f"{prefix}:{value}")
        return tuple(found)

    # -- derived views -------------------------------------------------------------------------

    @property
    def event_json(self) -> dict[str, Any]:
        """The raw event parsed (empty if missing or not a JSON object)."""
        if self._event is None:
            parsed: Any = None
            if self.raw is not None:
                try:
                    parsed = orjson.loads(self.raw)
                except orjson.JSONDecodeError:
                    parsed = None
            self._event = parsed if isinstance(parsed, dict) else {}
        return self._event

    def _field(self, *names: str) -> Any:
        for source in (self.processor or {}, self.event_json):
            for name in names:
                value = source.get(name)
                if value not in (None, ""):
                    return value
        return None

    @property
    def type(self) -> str | None:
        value = self._field("type")
        return str(value) if value is not None else None

    @property
    def event(self) -> str | None:
        value = self._field("event", "name")
        return str(value) if value is not None else None

    @property
    def received_at(self) -> str | None:
        value = self._field("receivedAt")
        return str(value) if value is not None else None

    @property
    def timestamp(self) -> float:
        """When the event was received (the collector's clock), else when we first saw it."""
        parsed = parse_time(self.received_at)
        return parsed if parsed is not None else self.first_seen

    def _final_delivery(self) -> dict[str, Any] | None:
        finals = [d for d in self.deliveries if d.get("outcome") in _FINAL]
        if finals:
            return finals[-1]
        return self.deliveries[-1] if self.deliveries else None

    @property
    def outcome(self) -> str:
        delivery = self._final_delivery()
        if delivery is not None and delivery.get("outcome") in _FINAL:
            return str(delivery["outcome"])
        if self.processor is not None and self.processor.get("outcome") == "dropped":
            return "dropped"
        return "pending"

    @property
    def reason(self) -> str | None:
        delivery = self._final_delivery()
        if delivery is not None and (delivery.get("outcome") in _FINAL or self.processor is None):
            return _str_or_none(delivery.get("reason"))
        if self.processor is not None:
            value = self.processor.get("reason") or self.processor.get("drop")
            if value is None and delivery is not None:
                value = delivery.get("reason")
            return _str_or_none(value)
        return None

    def summary(self) -> dict[str, Any]:
        """One row of the live table (unmasked: the HTTP layer masks)."""
        delivery = self._final_delivery() or {}
        return {
            "messageId": self.message_id,
            "type": self.type,
            "event": self.event,
            "receivedAt": self.received_at,
            "email": self.email,
            "outcome": self.outcome,
            "reason": self.reason,
            "prospectId": delivery.get("prospectId"),
            "action": delivery.get("action"),
            "updatedAt": self.updated,
        }

    def detail(self) -> dict[str, Any]:
        """The whole trace: stages, normalised fields, every exchange with Outreach, outcome."""
        proc = self.processor or {}
        stages = list(proc.get("stages") or [])
        exchanges: list[dict[str, Any]] = []
        for record in self.deliveries:
            stages.append(
                {
                    "stage": "delivery",
                    "status": _DELIVERY_STATUS.get(str(record.get("outcome")), "warn"),
                    "reason": record.get("reason"),
                    "detail": record.get("detail") or record.get("action"),
                    "at": record.get("at"),
                }
            )
            stages.extend(s for s in record.get("stages") or [] if isinstance(s, dict))
            exchanges.extend(record.get("exchanges") or [])
        view = self.summary()
        view.update(
            {
                "stages": stages,
                "normalized": proc.get("normalized") or {},
                "detail": proc.get("detail"),
                "document": proc.get("document"),
                "exchanges": exchanges,
                "input": self.event_json or None,
                "processor": self.processor,
                "deliveries": self.deliveries,
                # leadgate's mirror of the prospect this event went to (two-way sync).
                "mirror": (
                    f"/inspector/api/outreach/prospects/{view['prospectId']}"
                    if view.get("prospectId") is not None
                    else None
                ),
            }
        )
        return view

    # -- persistence ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-able form for the database."""
        return {
            "message_id": self.message_id,
            "first_seen": self.first_seen,
            "updated": self.updated,
            "processor": self.processor,
            "deliveries": self.deliveries,
            "raw": base64.b64encode(self.raw).decode() if self.raw is not None else None,
            "email": self.email,
            "email_key": self.email_key,
            "suppressed": self.suppressed,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TraceEntry:
        """Rebuild an entry saved by ``to_state``."""
        raw: bytes | None = None
        if isinstance(state.get("raw"), str):
            try:
                raw = base64.b64decode(state["raw"])
            except binascii.Error:
                raw = None
        return cls(
            message_id=state["message_id"],
            first_seen=float(state["first_seen"]),
            updated=float(state["updated"]),
            processor=state.get("processor"),
            deliveries=list(state.get("deliveries") or []),
            raw=raw,
            email=state.get("email"),
            email_key=state.get("email_key"),
            suppressed=state.get("suppressed") is True,
        )


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _raw_email(event: dict[str, Any]) -> str | None:
    for holder in (event.get("traits"), (event.get("context") or {}).get("traits")):
        if isinstance(holder, dict) and isinstance(holder.get("email"), str):
            return str(holder["email"])
    properties = event.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get("email"), str):
        return str(properties["email"])
    return None
