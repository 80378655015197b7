"""Consent withdrawal that reaches Outreach: the ``consent_withdrawn`` intent.

Any event (page, identify, track; mapped or not) may carry a new consent. When it takes away a
category the preset requires that the person's profile had granted, and the profile knows the
person's email, the event becomes a ``consent_withdrawn`` lead intent for the delivery topic
(keyed by the email like every write, so it is ordered after the person's earlier upserts). Its
handler (``outreach/withdrawal.py``) opts the prospect out and finishes the sequences leadgate
enrolled it in, as the preset's ``on_consent_withdrawn`` says; it does nothing for a person
Outreach does not know.

A later grant sends nothing back: Outreach's opt-out stands until a person changes it there, and
the trace says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from leadgate.domain.events import EventHead
from leadgate.domain.lead import LEAD_SCHEMA_VERSION, LeadIntent, Withdrawal, WithdrawalAction
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.privacy import profile_email
from leadgate.pipeline.trusted import trusted


def consent_changes(
    before: Mapping[str, bool], after: Mapping[str, bool], required: Iterable[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The required categories withdrawn (granted before, not granted after) and those granted
    again (refused before, explicitly ``false``, and granted after)."""
    # One loop, not two comprehensions: on Python 3.11 a comprehension makes and calls a
    # function each time, most of the cost of this check for a preset's one or two categories
    # (bench P1).
    withdrawn: tuple[str, ...] = ()
    regranted: tuple[str, ...] = ()
    for category in required:
        was, now = before.get(category), after.get(category)
        if was is True and now is not True:
            withdrawn += (category,)
        elif was is False and now is True:
            regranted += (category,)
    return withdrawn, regranted


@lru_cache(maxsize=64)
def _withdrawal_stage(categories: tuple[str, ...], action: str) -> StageRecord:
    what = {
        "opt_out": "opting the prospect out in Outreach",
        "finish_sequences": "finishing its sequences in Outreach",
        "both": "opting the prospect out and finishing its sequences in Outreach",
        "nothing": "the preset leaves Outreach alone (on_consent_withdrawn: nothing)",
    }[action]
    return StageRecord(
        "withdrawal",
        StageStatus.WARN,
        "consent_withdrawn",
        f"withdrew {', '.join(categories)}: {what}",
    )


@lru_cache(maxsize=64)
def _withdrawal(categories: tuple[str, ...], action: WithdrawalAction) -> Withdrawal:
    """The (frozen, shared) details of a withdrawal of ``categories``."""
    return Withdrawal(categories=categories, action=action)


_NO_EMAIL = StageRecord(
    "withdrawal",
    StageStatus.WARN,
    "consent_withdrawn",
    "consent withdrawn, but no email is known for this visitor: nothing to tell Outreach",
)


@lru_cache(maxsize=64)
def _regrant_stage(categories: tuple[str, ...]) -> StageRecord:
    return StageRecord(
        "withdrawal",
        StageStatus.WARN,
        None,
        f"granted {', '.join(categories)} again; an opt-out set in Outreach stays until a "
        "person changes it there (leadgate never opts a prospect back in)",
    )


def consent_change(
    snapshot: Profile, profile: Profile, preset: Preset, head: EventHead
) -> tuple[StageRecord, LeadIntent | None] | None:
    """What an event that changed the profile's consent (``snapshot`` before, ``profile`` after)
    means for Outreach: None when no required category changed; else the trace record to add
    and the ``consent_withdrawn`` intent (None when there is nothing to send: a grant again, no
    known email, or ``on_consent_withdrawn: nothing``).

    The caller adds both to the event's own outcome, which keeps its verdict (a demo request
    without consent is still ``no_consent``): the page path before it builds that outcome, so
    nothing is copied for the one event in ten that changes a consent (bench P1).
    """
    categories, again = consent_changes(snapshot.consent, profile.consent, preset.consent)
    if not categories:
        return (_regrant_stage(again), None) if again else None
    action = preset.on_consent_withdrawn
    traits, known = profile.traits, snapshot.traits
    # An event that changed only the consent keeps the very traits dict: look in it once.
    email = profile_email(traits) or (None if traits is known else profile_email(known))
    if email is None:
        return _NO_EMAIL, None
    stage = _withdrawal_stage(categories, action)
    if action == "nothing":
        return stage, None
    message_id = head.message_id
    # Built with ``trusted`` like every intent the pipeline makes (validation would cost more
    # than the rest of the event): every field, each made here with its declared type.
    intent = trusted(
        LeadIntent,
        {
            "schema_version": LEAD_SCHEMA_VERSION,
            "kind": "consent_withdrawn",
            "email": email,
            "attributes": {},
            "tags": (),
            "account": None,
            "consent": dict(profile.consent),
            "required_consent": (),
            "identities": head.identities,
            "message_ids": (message_id,) if message_id else (),
            "event": head.name or head.type,
            "preset": preset.name,
            "received_at": head.received_at,
            "routing": None,
            "withdrawal": _withdrawal(categories, action),
            "source": None,
            "on_existing": None,
            "opportunity": None,
        },
    )
    return stage, intent
