"""``process()``: the one composition of the pure stages, for the processor and the dry runs.

    decode ─► profile (remember traits and consent) ─► preset (is the event mapped?)
           ─► consent ─► identity ─► normalize ─► mapping ─► lead intent

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

from leadgate.domain.events import EventHead, IdentifyEvent, TrackEvent, decode, validate
from leadgate.domain.outcome import Drop, Outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.consent import consent_granted, missing_consent, parse_consent
from leadgate.pipeline.identity import find_email, remember
from leadgate.pipeline.mapping import build_lead
from leadgate.pipeline.normalize import normalize_traits
from leadgate.pipeline.presets import EventRule, Preset

_DECODED = StageRecord("decode", StageStatus.PASS)
_REMEMBERED = StageRecord("profile", StageStatus.PASS, detail="profile updated")
_UNCHANGED = StageRecord("profile", StageStatus.PASS, detail="nothing new to remember")
_IDENTIFY_DETAIL = "identify: traits remembered; only mapped track events create prospects"
_PAGE_DETAIL = "page views never create prospects (Outreach has no event ingestion)"
_NO_VALUES: dict[str, Any] = {}  # shared by every dropped outcome; nobody mutates it


class _LastDecoded:
    """The processor calls ``peek_identities`` then ``process`` on the same bytes object; keeping
    the last decoded record (one tuple, swapped atomically) saves parsing every event twice."""

    __slots__ = ("entry",)

    def __init__(self) -> None:
        self.entry: tuple[bytes, EventHead | Drop] = (b"", Drop(DropReason.MALFORMED, "empty"))

    def decode(self, record: bytes) -> EventHead | Drop:
        entry = self.entry
        if entry[0] is record:
            return entry[1]
        head = decode(record)
        self.entry = (record, head)
        return head


_LAST = _LastDecoded()


def peek_identities(record: bytes) -> tuple[str, ...]:
    """The profile keys of a record (``user:…``, ``anon:…``), or ``()`` if it is malformed."""
    head = _LAST.decode(record)
    return () if isinstance(head, Drop) else head.identities


def process(
    record: bytes, snapshot: Profile, preset: Preset, *, default_region: str | None = None
) -> Outcome:
    """Decide what happens to one event; never raises.

    ``snapshot`` is the profile stored under the record's identities (see ``peek_identities``
    and ``leadgate.pipeline.identity.merge_profiles``); write ``outcome.profile`` back under
    ``outcome.identities`` when it is not None.
    """
    try:
        head = _LAST.decode(record)
        if isinstance(head, Drop):
            return _dropped(None, head, (StageRecord("decode", StageStatus.DROP, *_why(head)),))
        rule = preset.rule_for(head.name) if head.type == "track" and head.name else None
        if rule is None:
            return _not_a_lead(head, snapshot, preset)
        return _lead(head, snapshot, preset, rule, default_region)
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
    _, kind, name, message_id, _, _, received_at, identities = head
    # Positional: this runs for most events, and keywords cost measurably here (bench P1).
    return Outcome(
        message_id,
        kind,
        name,
        identities,
        drop.reason,
        drop.detail,
        None,
        profile,
        stages,
        _NO_VALUES,
        received_at,
    )


def _event_consent(head: EventHead) -> dict[str, bool] | None:
    context = head.data.get("context")
    if not context:
        return None
    raw = context.get("consent")
    return None if raw is None else parse_consent(raw)


def _not_a_lead(head: EventHead, snapshot: Profile, preset: Preset) -> Outcome:
    """Identify, page, ignored types and unmapped tracks: remember, then drop."""
    if head.type == "identify":
        event = validate(head)
        if isinstance(event, Drop):
            return _dropped(head, event, (StageRecord("decode", StageStatus.DROP, *_why(event)),))
        assert isinstance(event, IdentifyEvent)
        traits = {**event.context.traits, **event.traits}
        profile = remember(snapshot, traits, _event_consent(head))
        drop, stage = _IDENTIFY_DROP
    else:
        consent = _event_consent(head)
        profile = None if consent is None else remember(snapshot, {}, consent)
        if head.type == "page":
            drop, stage = _PAGE_DROP
        else:
            drop, stage = _unmapped(
                head.type, head.name or "", preset.name, head.name in preset.events
            )
    stages = (_DECODED, _UNCHANGED if profile is None else _REMEMBERED, stage)
    return _dropped(head, drop, stages, profile)


def _drop_at_preset(detail: str) -> tuple[Drop, StageRecord]:
    drop = Drop(DropReason.UNMAPPED_EVENT, detail)
    return drop, StageRecord("preset", StageStatus.DROP, *_why(drop))


_IDENTIFY_DROP = _drop_at_preset(_IDENTIFY_DETAIL)
_PAGE_DROP = _drop_at_preset(_PAGE_DETAIL)


@lru_cache(maxsize=4096)
def _unmapped(kind: str, name: str, preset: str, listed: bool) -> tuple[Drop, StageRecord]:
    """The (cached) drop of an event type or name the preset does not send."""
    if kind != "track":
        return _drop_at_preset(f"{kind} events are ignored")
    if listed:
        return _drop_at_preset(f"preset {preset!r} drops {name[:80]!r}")
    return _drop_at_preset(f"{name[:80]!r} is not an event of preset {preset!r}")


def _lead(
    head: EventHead,
    snapshot: Profile,
    preset: Preset,
    rule: EventRule,
    default_region: str | None,
) -> Outcome:
    """A mapped track event: consent, identity, normalise, map."""
    event = validate(head)
    if isinstance(event, Drop):
        return _dropped(head, event, (StageRecord("decode", StageStatus.DROP, *_why(event)),))
    assert isinstance(event, TrackEvent)
    event_consent = _event_consent(head)
    context_traits = event.context.traits
    profile = remember(snapshot, context_traits, event_consent)
    current = profile or snapshot
    stages: list[StageRecord] = [
        _DECODED,
        _UNCHANGED if profile is None else _REMEMBERED,
        StageRecord("preset", StageStatus.PASS, detail=f"tags: {', '.join(rule.tags) or '-'}"),
    ]

    consent = current.consent
    if not consent_granted(consent, preset.consent):
        missing = ", ".join(missing_consent(consent, preset.consent))
        where = "this event" if event_consent is not None else "the profile (none on the event)"
        drop = Drop(DropReason.NO_CONSENT, f"not granted in {where}: {missing}")
        stages.append(StageRecord("consent", StageStatus.DROP, *_why(drop)))
        return _dropped(head, drop, tuple(stages), profile)
    stages.append(StageRecord("consent", StageStatus.PASS, detail=", ".join(preset.consent)))

    sources: list[tuple[str, dict[str, Any]]] = [
        ("context.traits", context_traits),
        ("properties", event.properties),
        ("profile", snapshot.traits),
    ]
    identity = find_email(sources)
    if isinstance(identity, Drop):
        stages.append(StageRecord("identity", StageStatus.DROP, *_why(identity)))
        return _dropped(head, identity, tuple(stages), profile)
    stages.append(StageRecord("identity", StageStatus.PASS, detail=f"email from {identity.source}"))

    wanted = [trait for trait in preset.mappings if trait != "email"]
    normalized = normalize_traits(current.traits, wanted, default_region=default_region)
    values = {"email": identity.email, **normalized.values}
    if normalized.warnings:
        stages.append(
            StageRecord("normalize", StageStatus.WARN, detail="; ".join(normalized.warnings))
        )
    else:
        stages.append(StageRecord("normalize", StageStatus.PASS))

    lead = build_lead(
        values,
        preset,
        rule,
        event=event.event,
        consent=consent,
        identities=head.identities,
        message_id=head.message_id,
        received_at=head.received_at,
    )
    stages.append(
        StageRecord("mapping", StageStatus.PASS, detail=f"{len(lead.attributes)} attributes")
    )
    return Outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        lead=lead,
        profile=profile,
        stages=tuple(stages),
        normalized=values,
        received_at=head.received_at,
    )
