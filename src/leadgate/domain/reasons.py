"""The closed sets every part of leadgate speaks in (docs/architecture.md).

A reason is at once the metric label, the log field and the inspector's answer.
"""

from __future__ import annotations

from enum import StrEnum


class DropReason(StrEnum):
    """Why an event did not become (or stay) a lead."""

    MALFORMED = "malformed"
    DUPLICATE_MESSAGE = "duplicate_message"
    NO_CONSENT = "no_consent"
    CONSENT_REVOKED = "consent_revoked"
    NO_IDENTITY = "no_identity"
    INVALID_EMAIL = "invalid_email"
    UNMAPPED_EVENT = "unmapped_event"
    EXCLUDED_DOMAIN = "excluded_domain"
    SUPPRESSED = "suppressed"  # a forgotten person (``leadgate privacy forget``); nothing is kept
    INVALID_RECORD = "invalid_record"  # a CRM record (person or opportunity) that is malformed
    CONDITION_NOT_MET = "condition_not_met"  # the event's rules all have a `when` that fails


class DeadLetterReason(StrEnum):
    """Why a record went to ``leadgate.deadletter`` (replayable with ``leadgate dlq replay``)."""

    VENDOR_VALIDATION = "vendor_validation"  # 422 other than "email taken", 400
    VENDOR_CONFLICT = "vendor_conflict"  # 409
    VENDOR_PERMANENT = "vendor_permanent"  # 413, 501, 505, 3xx, other 4xx
    EXCLUDED_DOMAIN = "excluded_domain"  # Outreach: "contact is using an excluded email address"
    RETRY_WINDOW_EXHAUSTED = "retry_window_exhausted"
    DESERIALIZE = "deserialize"  # the record's bytes are not a lead intent / event
    UNSUPPORTED_SCHEMA = "unsupported_schema"
    UNKNOWN_STAGE = "unknown_stage"  # an opportunity's stage name is no stage in Outreach
    # An Outreach change (webhook delivery, poll record) on leadgate.inbound.outreach that is not
    # JSON or not a change leadgate can read (no type/id, eventName not <type>.<action>, ...).
    INVALID_OUTREACH_CHANGE = "invalid_outreach_change"
    UNSUPPORTED_KIND = "unsupported_kind"  # no handler delivers the lead intent's ``kind``
    # a record batch the consumer cannot decode (CRC mismatch, unknown or missing codec,
    # corrupt payload): its raw bytes and offset range, so the partition moves on
    UNDECODABLE_BATCH = "undecodable_batch"
    SEQUENCE_DISABLED = "sequence_disabled"  # routing: the rule's sequence is disabled in Outreach
    SEQUENCE_NOT_FOUND = "sequence_not_found"  # routing: no sequence has the rule's name or id
    MAILBOX_MISSING = "mailbox_missing"  # routing: no mailbox to send from (owner or named one)


class RetryReason(StrEnum):
    """Why a delivery attempt failed transiently (the lead is tried again within the window)."""

    VENDOR_5XX = "vendor_5xx"  # Outreach answered a 5xx (not 501/505)
    VENDOR_UNREACHABLE = "vendor_unreachable"  # no answer: refused, reset, timed out, cut off
    VENDOR_BUSY = "vendor_busy"  # 408, 423, 425: Outreach asked to come back later
    VENDOR_AMBIGUOUS = "vendor_ambiguous"  # an answer that does not settle the write (V1-V3)
    RECORD_MOVED = "record_moved"  # the record changed under us between two requests
    RATE_LIMITED = "rate_limited"  # 429, or the budget is held until the reset


# Failures of Outreach as a whole (not of one lead): they close the shared health gate.
OUTAGE_REASONS = frozenset({RetryReason.VENDOR_5XX, RetryReason.VENDOR_UNREACHABLE})


class Outcome(StrEnum):
    """The final outcome of one event, as the inspector shows it."""

    DELIVERED = "delivered"
    DROPPED = "dropped"
    DEAD_LETTERED = "dead_lettered"
    PENDING = "pending"


class StageStatus(StrEnum):
    """How one stage judged an event."""

    PASS = "pass"  # noqa: S105 -- a stage verdict, not a password
    DROP = "drop"
    WARN = "warn"
