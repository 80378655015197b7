"""``process()``: the one composition of the pure stages, for the processor and the dry runs.

    decode ─► profile (remember traits and consent) ─► preset (is the event mapped?)
           ─► condition (which rule applies?) ─► consent ─► identity ─► normalize ─► mapping
           ─► routing (owner, sequence, stage of the rule) ─► lead intent

Most events stop at ``preset``: page views, identifies and unmapped tracks only update the
profile and drop as ``unmapped_event``. They take a cheap path (orjson and a few dict lookups;
no pydantic model, except for identify, whose traits must be validated before they are kept).
Only mapped track events are validated fully and go through the gates.

``process`` never raises: a malformed record, and even a bug in a stage, becomes a drop with a
reason, so one bad event can never stop a partition.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from leadgate.domain.events import EventHead, Fields, decode, fields, validate
from leadgate.domain.outcome import Drop, Outcome, fast_outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.consent import consent_granted, missing_consent, parse_consent_cached
from leadgate.pipeline.crm import (
    check_person,
    opportunity_intent,
    parse_opportunity,
    person_source,
)
from leadgate.pipeline.identity import find_email, new_profile, remember
from leadgate.pipeline.mapping import build_lead
from leadgate.pipeline.normalize import normalize_traits
from leadgate.pipeline.presets import EventRule, Preset
from leadgate.pipeline.rules import route, routing_pass, select
from leadgate.pipeline.withdrawal import with_withdrawal

_DECODED = StageRecord("decode", StageStatus.PASS)
_REMEMBERED = StageRecord("profile", StageStatus.PASS, detail="profile updated")
_UNCHANGED = StageRecord("profile", StageStatus.PASS, detail="nothing new to remember")
_IDENTIFY_DETAIL = "identify: traits remembered; only mapped track events create prospects"
_PAGE_DETAIL = "page views never create prospects (Outreach has no event ingestion)"
_UNMAPPED = DropReason.UNMAPPED_EVENT
_NO_VALUES: dict[str, Any] = {}  # shared by every dropped outcome; nobody mutates it


def identities_of(head: EventHead | Drop) -> tuple[str, ...]:
    """The profile keys of a decoded record (``user:…``, ``anon:…``); ``()`` if malformed."""
    return () if isinstance(head, Drop) else head.identities


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
    outcome = _decide(record, snapshot, preset, default_region, head)
    changed = outcome.profile
    if changed is None or changed.consent is snapshot.consent:  # the common case: no new consent
        return outcome
    try:
        return with_withdrawal(outcome, snapshot, preset)
    except Exception as exc:  # a bug here must not lose the event's own outcome
        stage = StageRecord(
            "withdrawal", StageStatus.WARN, None, f"unexpected {type(exc).__name__}"
        )
        return outcome._replace(stages=(*outcome.stages, stage))


def _decide(
    record: bytes,
    snapshot: Profile,
    preset: Preset,
    default_region: str | None,
    head: EventHead | Drop | None,
) -> Outcome:
    """``process`` before the withdrawal check."""
    try:
        if head is None:
            head = decode(record)
        if isinstance(head, Drop):
            why = _why(head)
            return _dropped(None, head, (StageRecord("decode", StageStatus.DROP, *why),))
        data = head.data
        kind = head.type
        name = head.name
        # Page views, unmapped tracks and ignored types (~90% of a site's events) only remember
        # consent and drop; this path is written inline for speed (bench P1).
        if kind == "page":
            detail, unchanged, remembered = _PAGE
        elif kind == "track":
            rules = preset.events.get(name) if name is not None else None
            if rules is not None and (
                rules[0].action != "drop" or rules[0].when is not None or len(rules) > 1
            ):
                return _lead(head, snapshot, preset, rules, default_region)
            detail, unchanged, remembered = _unmapped(
                kind, name or "", preset.name, rules is not None
            )
        elif kind == "identify":
            if preset.identify is not None:  # CRM people: identify rules may send
                return _lead(head, snapshot, preset, preset.identify, default_region, person=True)
            return _identify(head, snapshot)
        else:
            detail, unchanged, remembered = _unmapped(kind, "", preset.name, False)
        profile = None
        context = data.get("context")
        if context:  # a new consent on the event replaces the profile's
            raw = context.get("consent")
            if raw is not None:
                consent = parse_consent_cached(raw)
                # Usually the very object the profile holds (parsed once, shared): no compare.
                known = snapshot.consent
                if consent is not known and consent != known:
                    profile = new_profile(snapshot.traits, consent)
        return fast_outcome(
            message_id=head.message_id,
            event_type=kind,
            event_name=name,
            identities=head.identities,
            drop=_UNMAPPED,
            detail=detail,
            lead=None,
            profile=profile,
            stages=unchanged if profile is None else remembered,
            normalized=_NO_VALUES,
            received_at=head.received_at,
        )
    except Exception as exc:  # a bug in a stage must drop one event, not stop a partition
        drop = Drop(DropReason.MALFORMED, f"unexpected {type(exc).__name__} while processing")
        return _dropped(None, drop, (StageRecord("process", StageStatus.DROP, *_why(drop)),))


def _why(drop: Drop) -> tuple[str, str]:
    return str(drop.reason), drop.detail


def _dropped(
    head: EventHead | None,
    drop: Drop,
    stages: tuple[StageRecord, ...],
    profile: Profile | None = None,
) -> Outcome:
    if head is None:
        return Outcome(drop=drop.reason, detail=drop.detail, stages=stages)
    return fast_outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        drop=drop.reason,
        detail=drop.detail,
        lead=None,
        profile=profile,
        stages=stages,
        normalized=_NO_VALUES,
        received_at=head.received_at,
    )


def _event_consent(raw: object) -> dict[str, bool] | None:
    return None if raw is None else parse_consent_cached(raw)


def _fields(head: EventHead) -> Fields | Drop:
    """The event's containers, validated cheaply, or by the full model when in doubt."""
    found = fields(head)
    if found is not None:
        return found
    event = validate(head)
    if isinstance(event, Drop):
        return event
    traits: dict[str, Any] = getattr(event, "traits", {})
    properties: dict[str, Any] = getattr(event, "properties", {})
    return Fields(event.context.traits, event.context.consent, traits, properties)


def _identify(head: EventHead, snapshot: Profile) -> Outcome:
    """identify: remember its traits and consent, then drop (only mapped tracks send)."""
    found = _fields(head)
    if isinstance(found, Drop):
        return _dropped(head, found, (StageRecord("decode", StageStatus.DROP, *_why(found)),))
    context_traits, raw_consent, traits, _ = found
    merged = {**context_traits, **traits} if context_traits else traits
    profile = remember(snapshot, merged, _event_consent(raw_consent))
    stages = _IDENTIFY_UNCHANGED if profile is None else _IDENTIFY_REMEMBERED
    return _dropped(head, _IDENTIFY_DROP, stages, profile)


def _stage_pair(detail: str) -> tuple[tuple[StageRecord, ...], tuple[StageRecord, ...]]:
    """The trace of a drop at the preset stage: without and with a profile update."""
    stage = StageRecord("preset", StageStatus.DROP, str(_UNMAPPED), detail)
    return (_DECODED, _UNCHANGED, stage), (_DECODED, _REMEMBERED, stage)


_IDENTIFY_DROP = Drop(_UNMAPPED, _IDENTIFY_DETAIL)
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


def _lead(
    head: EventHead,
    snapshot: Profile,
    preset: Preset,
    rules: tuple[EventRule, ...],
    default_region: str | None,
    *,
    person: bool = False,
) -> Outcome:
    """A mapped track event, or an identify with rules (``person``: a CRM person, its traits
    remembered first): condition, consent, identity, normalise, map, route."""
    found = _fields(head)
    if isinstance(found, Drop):
        return _dropped(head, found, (StageRecord("decode", StageStatus.DROP, *_why(found)),))
    context_traits, raw_consent, traits, properties = found
    event_consent = _event_consent(raw_consent)
    told = (
        ({**context_traits, **traits} if context_traits else traits) if person else context_traits
    )
    profile = remember(snapshot, told, event_consent)
    current = profile or snapshot
    stages: list[StageRecord] = [_DECODED, _UNCHANGED if profile is None else _REMEMBERED]
    if person:
        invalid = check_person(told)
        if invalid is not None:
            stages.append(StageRecord("record", StageStatus.DROP, *_why(invalid)))
            return _dropped(head, invalid, tuple(stages), profile)
    selected = select(rules, head, properties, current.traits)
    if isinstance(selected, Drop):
        stages.append(StageRecord("condition", StageStatus.DROP, *_why(selected)))
        return _dropped(head, selected, tuple(stages), profile)
    rule = selected.rule
    if selected.stage is not None:
        stages.append(selected.stage)
    if rule.action == "upsert_opportunity":
        return _opportunity(head, properties, preset, current, stages, profile)
    stages.append(_preset_pass(rule.tags))

    consent = current.consent
    if not consent_granted(consent, preset.consent):
        missing = ", ".join(missing_consent(consent, preset.consent))
        where = "this event" if event_consent is not None else "the profile (none on the event)"
        drop = Drop(DropReason.NO_CONSENT, f"not granted in {where}: {missing}")
        stages.append(StageRecord("consent", StageStatus.DROP, *_why(drop)))
        return _dropped(head, drop, tuple(stages), profile)
    stages.append(_consent_pass(preset.consent))

    sources: list[tuple[str, dict[str, Any]]] = [
        *((("traits", traits),) if person else ()),
        ("context.traits", context_traits),
        ("properties", properties),
        ("profile", snapshot.traits),
    ]
    identity = find_email(sources)
    if isinstance(identity, Drop):
        stages.append(StageRecord("identity", StageStatus.DROP, *_why(identity)))
        return _dropped(head, identity, tuple(stages), profile)
    normalized = normalize_traits(
        current.traits, preset.traits_to_normalize, default_region=default_region
    )
    values = {"email": identity.email, **normalized.values}
    plan = route(preset.name, rules, selected, head, properties, current.traits)
    lead = build_lead(
        values,
        preset,
        rule,
        event=head.name or "",
        consent=consent,
        identities=head.identities,
        message_id=head.message_id,
        received_at=head.received_at,
        routing=plan,
        source=person_source(head) if person else None,
    )
    trace = (
        *stages,
        _identity_pass(identity.source),
        (
            StageRecord("normalize", StageStatus.WARN, detail="; ".join(normalized.warnings))
            if normalized.warnings
            else _NORMALIZED
        ),
        _mapping_pass(len(lead.attributes)),
        *(() if plan is None else (routing_pass(plan),)),
    )
    return fast_outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        drop=None,
        detail=None,
        lead=lead,
        profile=profile,
        stages=trace,
        normalized=values,
        received_at=head.received_at,
    )


def _opportunity(
    head: EventHead,
    properties: dict[str, Any],
    preset: Preset,
    current: Profile,
    stages: list[StageRecord],
    profile: Profile | None,
) -> Outcome:
    """A CRM opportunity record (``upsert_opportunity``): consent, then the record's checks."""
    if not consent_granted(current.consent, preset.consent):
        missing = ", ".join(missing_consent(current.consent, preset.consent))
        drop = Drop(DropReason.NO_CONSENT, f"not granted: {missing}")
        stages.append(StageRecord("consent", StageStatus.DROP, *_why(drop)))
        return _dropped(head, drop, tuple(stages), profile)
    plan = parse_opportunity(properties)
    if isinstance(plan, Drop):
        stages.append(StageRecord("record", StageStatus.DROP, *_why(plan)))
        return _dropped(head, plan, tuple(stages), profile)
    lead = opportunity_intent(
        plan,
        head,
        preset=preset.name,
        consent=current.consent,
        required_consent=preset.consent,
    )
    detail = f"opportunity {plan.source_id!r}: {len(plan.contacts)} contact role(s)"
    stages.append(StageRecord("record", StageStatus.PASS, detail=detail))
    return Outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        lead=lead,
        profile=profile,
        stages=tuple(stages),
        received_at=head.received_at,
    )


# The pass records of the lead path depend on the preset only: built once, shared.
_NORMALIZED = StageRecord("normalize", StageStatus.PASS)


@lru_cache(maxsize=256)
def _preset_pass(tags: tuple[str, ...]) -> StageRecord:
    return StageRecord("preset", StageStatus.PASS, detail=f"tags: {', '.join(tags) or '-'}")


@lru_cache(maxsize=256)
def _consent_pass(required: tuple[str, ...]) -> StageRecord:
    return StageRecord("consent", StageStatus.PASS, detail=", ".join(required))


@lru_cache(maxsize=16)
def _identity_pass(source: str) -> StageRecord:
    return StageRecord("identity", StageStatus.PASS, detail=f"email from {source}")


@lru_cache(maxsize=256)
def _mapping_pass(count: int) -> StageRecord:
    return StageRecord("mapping", StageStatus.PASS, detail=f"{count} attributes")
