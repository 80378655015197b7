"""The outcome of one source record, written back to its source (topic ``leadgate.outcomes`` and,
when configured, a signed callback): what a CRM needs to fill its "Outreach Id", "Outreach URL",
"Outreach Duplicate" and "Outreach Sync Error" fields.

One outcome per finished record (delivered, unchanged, matched an existing prospect, or
dead-lettered), keyed by ``SourceRef.key``. A failure carries its reason and a message a person
can act on; no outcome ever holds an email address, a phone number or a secret.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from leadgate.domain.opportunity import SourceRef

OutcomeStatus = Literal["ok", "failed"]
OUTCOME_SCHEMA_VERSION = 1

# Outreach's web app, where a person opens a record (its API links point at the API instead).
WEB_PATHS = {"prospect": "prospects", "opportunity": "opportunities", "account": "accounts"}

# What a person can do about each failure reason; the CRM shows this next to its error flag.
_ADVICE: dict[str, str] = {
    "vendor_validation": "Outreach refused the record as invalid; correct it in the CRM and sync "
    "it again.",
    "vendor_conflict": "Outreach reported a conflicting change; sync the record again.",
    "vendor_permanent": "Outreach refused the request; check the integration's permissions, then "
    "sync the record again.",
    "excluded_domain": "The address is on Outreach's excluded domains or addresses; remove it "
    "there or use another address.",
    "retry_window_exhausted": "Outreach could not be reached for the whole retry window; sync the "
    "record again once Outreach is available (leadgate dlq replay).",
    "deserialize": "leadgate could not read the record; send it again.",
    "unsupported_schema": "The record was written by a newer leadgate; upgrade the workers and "
    "replay it.",
    "unknown_stage": "Outreach has no opportunity stage of that name; create it in Outreach or "
    "correct the stage in the CRM, then sync the record again.",
    "invalid_record": "The record is malformed (see the detail); correct it in the CRM and sync "
    "it again.",
}
_DEFAULT_ADVICE = "The record was not synced; correct it and sync it again."


def advice(reason: str) -> str:
    """The message a person can act on for a failure ``reason``."""
    return _ADVICE.get(reason, _DEFAULT_ADVICE)


def web_url(base: str, record_type: str, record_id: int) -> str:
    """Where a person opens the record in Outreach, e.g. ``…/prospects/12/overview``."""
    plural = WEB_PATHS.get(record_type, f"{record_type}s")
    return f"{base.rstrip('/')}/{plural}/{record_id}/overview"


class RecordOutcome(BaseModel):
    """What happened to one source record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = OUTCOME_SCHEMA_VERSION
    id: str  # ``outcome_id``: stable per (record, result), a callback receiver dedupes on it
    source: SourceRef
    message_id: str | None
    status: OutcomeStatus
    action: str  # created | updated | unchanged | matched_existing | dead_lettered | ...
    outreach_type: str | None = None
    outreach_id: int | None = None
    outreach_url: str | None = None
    reason: str | None = None
    message: str | None = None
    at: str  # ISO-8601 UTC, when leadgate finished the record

    def to_json(self) -> dict[str, Any]:
        """The outcome as the topic and the callback carry it (camelCase, like the events)."""
        return {
            "schemaVersion": self.schema_version,
            "id": self.id,
            "source": {
                "system": self.source.system,
                "type": self.source.kind,
                "id": self.source.id,
            },
            "messageId": self.message_id,
            "status": self.status,
            "action": self.action,
            "outreach": {
                "type": self.outreach_type,
                "id": self.outreach_id,
                "url": self.outreach_url,
            },
            "reason": self.reason,
            "message": self.message,
            "at": self.at,
        }

    def to_bytes(self) -> bytes:
        """The Kafka record value."""
        return orjson.dumps(self.to_json())


def outcome_id(
    source: SourceRef,
    message_id: str | None,
    action: str,
    outreach_id: int | None,
    reason: str | None,
) -> str:
    """``out_<hex>``, a function of what the outcome says: a redelivered record that ends the same
    way gets the same id (receivers dedupe on ``webhook-id``); a replay that ends differently
    (a fixed record now delivered) gets a new one."""
    text = f"{source.key}|{message_id}|{action}|{outreach_id}|{reason}"
    return f"out_{hashlib.sha256(text.encode()).hexdigest()[:24]}"
