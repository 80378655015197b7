"""``process()``: the one composition of the pure stages, for the processor and the dry runs.

    decode ─► profile (remember traits and consent) ─► preset (is the event mapped?)
           ─► the lead path (``pipeline.leads``) ─► lead intent
           ─► withdrawal (did the event take a required consent away?)

Most events stop at ``preset``: page views, identifies and unmapped tracks only update the
profile and drop as ``unmapped_event``. They take a cheap path (orjson and a few dict lookups;
no pydantic model, except for identify, whose traits must be validated before they are kept).
Only events a rule may send are validated fully and go through the gates. Each later stage
costs only the events that use it: the withdrawal check runs only when the event changed the
profile's consent, conditions only for rules that have one (bench P1).

``process`` never raises: a malformed record, and even a bug in a stage, becomes a drop with a
reason, so one bad event can never stop a partition.
"""

from __future__ import annotations

from functools import lru_cache

from leadgate.domain.events import EventHead, decode, fields
from leadgate.domain.lead import LeadIntent
from leadgate.domain.outcome import Drop, Outcome, drop_outcome
from leadgate.domain.profile import Profile, new_profile
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.consent import parse_consent_cached
from leadgate.pipeline.identity import remember
from leadgate.pipeline.leads import lead_outcome
from leadgate.pipeline.outcomes import (
    DECODED,
    REMEMBERED,
    UNCHANGED,
    dropped,
    event_consent,
    undecodable,
    validated_fields,
    why,
)
from leadgate.pipeline.presets import EventRule, Preset
from leadgate.pipeline.withdrawal import consent_change

_IDENTIFY_DETAIL = "identify: traits remembered; only mapped track events create prospects"
_PAGE_DETAIL = "page views never create prospects (Outreach has no event ingestion)"
_UNMAPPED = DropReason.UNMAPPED_EVENT


def identities_of(head: EventHead | Drop) -> tuple[str, ...]:
    """The profile keys of a decoded record (``user:…``, ``anon:…``); ``()`` if malformed."""
    return () if type(head) is Drop else head.identities  # Drop is final: exact test, cheaper


def process(
    record: bytes,
    snapshot: Profile,
    preset: Preset,
    *,
    default_region: str | None = None,
    head: EventHead | Drop | None = None,
) -> Outcome:
    """Decide what happens to one event; never raises.

    Decode the record once with ``domain.events.decode`` and pass the result as ``head``: its
    ``identities_of`` name the profile to load as ``snapshot`` (see
    ``leadgate.pipeline.identity.merge_profiles``). Without ``head`` the record is decoded here.
    Write ``outcome.profile`` back under ``outcome.identities`` when it is not None.
    An event that withdraws a required consent category becomes a ``consent_withdrawn``
    intent (``pipeline.withdrawal``).
    """
    try:
        if head is None:
            head = decode(record)
        if type(head) is Drop:  # final: cheaper than isinstance for the heads it is not
            return undecodable(head)
        kind = head.type
        # Page views, unmapped tracks and ignored types (~90% of a site's events) only remember
        # consent and drop; this path is written inline for speed (bench P1).
        if kind == "page":
            detail, unchanged, remembered = _PAGE
        elif kind == "track":
            name = head.name
            rules = preset.events.get(name) if name is not None else None
            if rules is not None and _may_send(rules):
                sent = lead_outcome(head, snapshot, preset, rules, default_region)
                return _after_consent_change(sent, head, snapshot, preset)
            detail, unchanged, remembered = _unmapped(
                kind, name or "", preset.name, rules is not None
            )
        elif kind == "identify":
            return _identify(head, snapshot, preset, default_region)
        else:
            detail, unchanged, remembered = _unmapped(kind, "", preset.name, False)
        profile = None
        context = head.data.get("context")
        if context:  # a new consent on the event replaces the profile's
            raw = context.get("consent")
            if raw is not None:
                consent = parse_consent_cached(raw)
                # Usually the very object the profile holds (parsed once, shared): no compare.
                known = snapshot.consent
                if consent is not known and consent != known:
                    profile = new_profile(snapshot.traits, consent)
        if profile is None:  # the common case: nothing new to remember
            return drop_outcome(head, _UNMAPPED, detail, unchanged)
        return _remembered(head, detail, remembered, profile, snapshot, preset)
    except Exception as exc:  # a bug in a stage must drop one event, not stop a partition
        drop = Drop(DropReason.MALFORMED, f"unexpected {type(exc).__name__} while processing")
        return undecodable(drop, "process")


def _remembered(
    head: EventHead,
    detail: str,
    stages: tuple[StageRecord, ...],
    profile: Profile,
    snapshot: Profile,
    preset: Preset,
) -> Outcome:
    """The drop of an event that changed the profile, with what a new consent on it means for
    Outreach."""
    # Only a new consent can withdraw one, and only from a profile that held one (the first
    # consent a visitor gives, most of a fresh store's events, takes nothing away). Decided
    # before the outcome is built, so nothing is copied to add to it.
    if profile.consent is snapshot.consent or not snapshot.consent:
        return drop_outcome(head, _UNMAPPED, detail, stages, profile)
    change = _consent_change(snapshot, profile, preset, head)
    if change is None:
        return drop_outcome(head, _UNMAPPED, detail, stages, profile)
    stage, intent = change
    return drop_outcome(head, _UNMAPPED, detail, (*stages, stage), profile, intent)


def _may_send(rules: tuple[EventRule, ...]) -> bool:
    """Whether an event listed with these rules can be sent (anything but one plain drop)."""
    return rules[0].action != "drop" or rules[0].when is not None or len(rules) > 1


def _after_consent_change(
    outcome: Outcome, head: EventHead, snapshot: Profile, preset: Preset
) -> Outcome:
    """``outcome``, checked for a withdrawal when its event changed the profile's consent."""
    changed = outcome.profile
    if changed is None or changed.consent is snapshot.consent or not snapshot.consent:
        return outcome  # the common case: no new consent, or the visitor's first
    change = _consent_change(snapshot, changed, preset, head)
    if change is None:
        return outcome
    stage, intent = change
    return outcome.with_stage(stage) if intent is None else outcome.with_intent(intent, stage)


def _consent_change(
    snapshot: Profile, profile: Profile, preset: Preset, head: EventHead
) -> tuple[StageRecord, LeadIntent | None] | None:
    """``pipeline.withdrawal.consent_change``; a bug there becomes a warning on the trace."""
    try:
        return consent_change(snapshot, profile, preset, head)
    except Exception as exc:  # a bug here must not lose the event's own outcome
        return StageRecord(
            "withdrawal", StageStatus.WARN, None, f"unexpected {type(exc).__name__}"
        ), None


def _identify(
    head: EventHead, snapshot: Profile, preset: Preset, default_region: str | None
) -> Outcome:
    """identify: remember its traits and consent, then drop (only mapped tracks send), unless
    the preset has identify rules (CRM people: they may send); a new consent on it is checked
    for a withdrawal either way."""
    if preset.identify is not None:
        sent = lead_outcome(head, snapshot, preset, preset.identify, default_region, person=True)
        return _after_consent_change(sent, head, snapshot, preset)
    found = fields(head) or validated_fields(head)
    if isinstance(found, Drop):
        return dropped(head, found, (StageRecord("decode", StageStatus.DROP, *why(found)),))
    context_traits, raw_consent, traits, _ = found
    merged = {**context_traits, **traits} if context_traits else traits
    profile = remember(snapshot, merged, event_consent(raw_consent))
    if profile is None:
        return drop_outcome(head, _UNMAPPED, _IDENTIFY_DETAIL, _IDENTIFY_UNCHANGED)
    return _remembered(head, _IDENTIFY_DETAIL, _IDENTIFY_REMEMBERED, profile, snapshot, preset)


def _stage_pair(detail: str) -> tuple[tuple[StageRecord, ...], tuple[StageRecord, ...]]:
    """The trace of a drop at the preset stage: without and with a profile update."""
    stage = StageRecord("preset", StageStatus.DROP, str(_UNMAPPED), detail)
    return (DECODED, UNCHANGED, stage), (DECODED, REMEMBERED, stage)


_IDENTIFY_UNCHANGED, _IDENTIFY_REMEMBERED = _stage_pair(_IDENTIFY_DETAIL)
_PAGE = (_PAGE_DETAIL, *_stage_pair(_PAGE_DETAIL))


@lru_cache(maxsize=4096)
def _unmapped(
    kind: str, name: str, preset: str, listed: bool
) -> tuple[str, tuple[StageRecord, ...], tuple[StageRecord, ...]]:
    """The (cached) drop detail and traces of an event type or name the preset does not send."""
    if kind != "track":
        detail = f"{kind} events are ignored"
    elif listed:
        detail = f"preset {preset!r} drops {name[:80]!r}"
    else:
        detail = f"{name[:80]!r} is not an event of preset {preset!r}"
    return (detail, *_stage_pair(detail))
