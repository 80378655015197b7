"""CRM records: checking a person's sync fields and an ``Opportunity Updated`` event's
``properties.opportunity`` before either becomes an intent.

A record that cannot be read drops as ``invalid_record`` with a detail that names the field and
what was expected, never the value (it may be an email address). Checks are strict where a
guess could write the wrong thing to Outreach (an amount of ``"1,000"``, a close date of
``"next week"``) and forgiving where the meaning is clear (a numeric id, a date without a time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from leadgate.domain.events import EventHead
from leadgate.domain.lead import LEAD_SCHEMA_VERSION, LeadIntent
from leadgate.domain.opportunity import OpportunityContact, OpportunityPlan, SourceRef
from leadgate.domain.outcome import Drop
from leadgate.domain.reasons import DropReason
from leadgate.domain.times import iso_utc, parse_iso
from leadgate.pipeline.email import InvalidEmail, normalize_email

OPPORTUNITY_EVENT = "Opportunity Updated"
# The source system of a record without one (the collector names the write key's source in
# ``context.leadgate.source``; ``leadgate send --source`` does the same for a file).
DEFAULT_SYSTEM = "crm"
SYNC_FLAG = "syncToOutreach"
OWNER_TRAIT = "assignedTo"
MAX_TEXT = 255
MAX_CONTACTS = 200
MAX_AMOUNT_CHARS = 15
_CURRENCY = re.compile(r"[A-Z]{3}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}")
_OPPORTUNITY_FIELDS = frozenset(
    {"id", "name", "amount", "currency", "closeDate", "stage", "owner", "accountDomain", "contacts"}
)


class _Invalid(ValueError):
    """One field of the record is unusable; the message names the field, never its value."""


def _invalid(detail: str) -> Drop:
    return Drop(DropReason.INVALID_RECORD, detail)


def check_person(traits: Mapping[str, Any]) -> Drop | None:
    """A person's sync fields: ``syncToOutreach`` a boolean, ``assignedTo`` a username."""
    flag = traits.get(SYNC_FLAG)
    if flag is not None and not isinstance(flag, bool):
        return _invalid(f"traits.{SYNC_FLAG} must be true or false, not {_kind(flag)}")
    owner = traits.get(OWNER_TRAIT)
    if owner is not None:
        try:
            _text(owner, f"traits.{OWNER_TRAIT}")
        except _Invalid as exc:
            return _invalid(str(exc))
    return None


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"


def _text(value: object, field: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Invalid(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{field} must be text, not {_kind(value)}")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise _Invalid(f"{field} is longer than {MAX_TEXT} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise _Invalid(f"{field} must not contain control characters")
    return text


def _source_id(value: object) -> str:
    # CRMs number their records; an integer id is the same record as its text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value, "opportunity.id", required=True)
    assert text is not None
    return text


def _amount(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(f"opportunity.amount must be a number, not {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid("opportunity.amount must be a finite number")
    try:
        # repr of a float is its shortest exact decimal (0.1 stays "0.1", not 0.1000000000000000055)
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise _Invalid(
            "opportunity.amount must be a plain number such as 5000 or 5000.50"
        ) from None
    if not amount.is_finite():
        raise _Invalid("opportunity.amount must be a finite number")
    text = format(amount, "f")
    # Outreach keeps the exact amount in amountPrecise, at most 15 characters of text.
    if len(text) > MAX_AMOUNT_CHARS:
        raise _Invalid(f"opportunity.amount has more than {MAX_AMOUNT_CHARS} characters")
    return text


def _currency(value: object) -> str | None:
    text = _text(value, "opportunity.currency")
    if text is None:
        return None
    if not _CURRENCY.fullmatch(text.upper()):
        raise _Invalid("opportunity.currency must be a three-letter ISO 4217 code such as EUR")
    return text.upper()


def _close_date(value: object) -> str | None:
    text = _text(value, "opportunity.closeDate")
    if text is None:
        return None
    moment = parse_iso(text) if len(text) >= 10 else None  # a date alone is midnight UTC
    if moment is None:
        raise _Invalid("opportunity.closeDate must be a date (2026-12-31) or an ISO date-time")
    return iso_utc(moment)


def _domain(value: object) -> str | None:
    text = _text(value, "opportunity.accountDomain")
    if text is None:
        return None
    domain = text.lower().rstrip(".").removeprefix("www.")
    if not _DOMAIN.fullmatch(domain):
        raise _Invalid("opportunity.accountDomain must be a domain such as acme.com")
    return domain


def _contact(value: object, index: int) -> OpportunityContact:
    where = f"opportunity.contacts.{index}"
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be an object, not {_kind(value)}")
    raw = value.get("email")
    if not isinstance(raw, str) or not raw.strip():
        raise _Invalid(f"{where}.email is required")
    try:
        email = normalize_email(raw)
    except InvalidEmail as exc:
        raise _Invalid(f"{where}.email: {exc}") from None
    primary = value.get("primary", False)
    if primary is None:
        primary = False
    if not isinstance(primary, bool):
        raise _Invalid(f"{where}.primary must be true or false, not {_kind(primary)}")
    return OpportunityContact(
        email=email, role=_text(value.get("role"), f"{where}.role"), primary=primary
    )


def _contacts(value: object) -> tuple[OpportunityContact, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"opportunity.contacts must be a list, not {_kind(value)}")
    if len(value) > MAX_CONTACTS:
        raise _Invalid(f"opportunity.contacts holds more than {MAX_CONTACTS} people")
    contacts: dict[tuple[str, str | None], OpportunityContact] = {}
    for index, raw in enumerate(value):
        contact = _contact(raw, index)
        key = (contact.email, contact.role)
        # One role per (person, role): the same pair twice is one role, primary if either says so.
        known = contacts.get(key)
        if known is None or (contact.primary and not known.primary):
            contacts[key] = contact
    return tuple(contacts.values())


def parse_opportunity(properties: Mapping[str, Any]) -> OpportunityPlan | Drop:
    """The opportunity in ``properties.opportunity``, checked, or ``Drop(invalid_record)``."""
    raw = properties.get("opportunity")
    if not isinstance(raw, dict):
        what = "missing" if raw is None else f"{_kind(raw)}, not an object"
        return _invalid(f"properties.opportunity is {what}")
    unknown = sorted(set(raw) - _OPPORTUNITY_FIELDS)
    if unknown:
        names = ", ".join(name[:40] for name in unknown[:5])
        return _invalid(f"properties.opportunity has unknown fields: {names}")
    try:
        name = _text(raw.get("name"), "opportunity.name", required=True)
        assert name is not None
        return OpportunityPlan(
            source_id=_source_id(raw.get("id")),
            name=name,
            amount=_amount(raw.get("amount")),
            currency=_currency(raw.get("currency")),
            close_date=_close_date(raw.get("closeDate")),
            stage=_text(raw.get("stage"), "opportunity.stage"),
            owner=_text(raw.get("owner"), "opportunity.owner"),
            account_domain=_domain(raw.get("accountDomain")),
            contacts=_contacts(raw.get("contacts")),
        )
    except _Invalid as exc:
        return _invalid(str(exc))


def source_system(data: Mapping[str, Any]) -> str:
    """The system a record came from: ``context.leadgate.source``, else ``DEFAULT_SYSTEM``."""
    context = data.get("context")
    stamp = context.get("leadgate") if isinstance(context, dict) else None
    name = stamp.get("source") if isinstance(stamp, dict) else None
    return name if isinstance(name, str) and name.strip() else DEFAULT_SYSTEM


def with_source(raw: bytes, system: str) -> bytes:
    """``raw`` with ``context.leadgate.source`` set to ``system`` when it names none (what the
    collector stamps; ``leadgate send --source`` does it for a file). Anything that is not a
    JSON object is returned as it is: ``process`` explains why it drops."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(event, dict):
        return raw
    context = event.get("context")
    if context is None:
        context = event["context"] = {}
    if not isinstance(context, dict):
        return raw
    stamp = context.get("leadgate")
    if isinstance(stamp, dict) and stamp.get("source"):
        return raw
    context["leadgate"] = {**(stamp if isinstance(stamp, dict) else {}), "source": system}
    return orjson.dumps(event)


def person_source(head: EventHead) -> SourceRef:
    """The CRM person behind an identify: its userId (the CRM's id), else its anonymousId."""
    record_id = head.user_id or head.anonymous_id or ""
    return SourceRef(system=source_system(head.data), kind="person", id=record_id)


def opportunity_intent(
    plan: OpportunityPlan,
    head: EventHead,
    *,
    preset: str,
    consent: Mapping[str, bool],
    required_consent: tuple[str, ...],
) -> LeadIntent:
    """The ``upsert_opportunity`` intent of a checked opportunity record."""
    return LeadIntent(
        schema_version=LEAD_SCHEMA_VERSION,
        kind="upsert_opportunity",
        email="",
        attributes={},
        consent=dict(consent),
        required_consent=required_consent,
        identities=head.identities,
        message_ids=(head.message_id,) if head.message_id else (),
        event=head.name or "",
        preset=preset,
        received_at=head.received_at,
        source=SourceRef(system=source_system(head.data), kind="opportunity", id=plan.source_id),
        opportunity=plan,
    )
