"""``leadgate presets diff``: how a preset edit would change the outcomes of real recent events.

Both versions replay the same events, in order, each with its own fresh in-memory profiles
(so an identify followed by a track is stitched as in production), through the one
``process()`` the processor runs. The report counts outcomes per version (sent, or dropped per
reason), lists the events whose outcome moves, and the events sent by both whose Outreach
document changes (a renamed tag, a new mapping). Emails in the report are masked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.events import decode
from leadgate.domain.outcome import Outcome
from leadgate.domain.profile import Profile
from leadgate.observability.masking import mask_email
from leadgate.pipeline.identity import merge_profiles
from leadgate.pipeline.presets import Preset
from leadgate.pipeline.process import identities_of, process

SENT = "sent"


def verdict(outcome: Outcome) -> str:
    """``sent`` or ``dropped: <reason>``."""
    return SENT if outcome.sent else f"dropped: {outcome.drop}"


def replay(events: Iterable[bytes], preset: Preset, default_region: str | None) -> list[Outcome]:
    """Process events in order with fresh in-memory profiles, as the processor would
    (``presets try`` and ``presets diff`` both dry-run through it)."""
    profiles: dict[str, Profile] = {}
    outcomes = []
    for record in events:
        head = decode(record)
        snapshot = merge_profiles(profiles.get(key) for key in identities_of(head))
        outcome = process(record, snapshot, preset, default_region=default_region, head=head)
        if outcome.profile is not None:
            for key in outcome.identities:
                profiles[key] = outcome.profile
        outcomes.append(outcome)
    return outcomes


@dataclass(frozen=True, slots=True)
class Move:
    """One event whose result differs between the two versions."""

    message_id: str | None
    event: str | None
    email: str | None
    old: str
    new: str
    old_document: dict[str, Any] | None = None
    new_document: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form (email masked)."""
        return {
            "messageId": self.message_id,
            "event": self.event,
            "email": mask_email(self.email) if self.email else None,
            "old": self.old,
            "new": self.new,
            "oldDocument": self.old_document,
            "newDocument": self.new_document,
        }


@dataclass
class PresetsDiff:
    """Outcome counts per version and the events that change."""

    total: int = 0
    old_counts: Counter[str] = field(default_factory=Counter)
    new_counts: Counter[str] = field(default_factory=Counter)
    moves: list[Move] = field(default_factory=list)
    changed_documents: list[Move] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` report."""
        return {
            "events": self.total,
            "old": dict(self.old_counts),
            "new": dict(self.new_counts),
            "moves": [move.to_json() for move in self.moves],
            "changedDocuments": [move.to_json() for move in self.changed_documents],
        }


def _document(outcome: Outcome) -> dict[str, Any] | None:
    return outcome.lead.document() if outcome.lead is not None else None


def diff_presets(
    events: Sequence[bytes], old: Preset, new: Preset, *, default_region: str | None = None
) -> PresetsDiff:
    """Replay ``events`` through both presets and compare."""
    report = PresetsDiff(total=len(events))
    pairs = zip(
        replay(events, old, default_region), replay(events, new, default_region), strict=True
    )
    for before, after in pairs:
        report.old_counts[verdict(before)] += 1
        report.new_counts[verdict(after)] += 1
        email = after.normalized.get("email") or before.normalized.get("email")
        move = Move(
            message_id=after.message_id,
            event=after.event_name or after.event_type,
            email=email if isinstance(email, str) else None,
            old=verdict(before),
            new=verdict(after),
            old_document=_document(before),
            new_document=_document(after),
        )
        if move.old != move.new:
            report.moves.append(move)
        elif move.old_document != move.new_document:
            report.changed_documents.append(move)
    return report


def render(report: PresetsDiff, *, old_name: str, new_name: str, show: int = 50) -> str:
    """The human report."""
    lines = [
        f"Replayed {report.total} recent events through OLD ({old_name}) and NEW ({new_name})."
    ]
    labels = sorted(set(report.old_counts) | set(report.new_counts), key=lambda x: (x != SENT, x))
    width = max([len(label) for label in labels] + [len("outcome")])
    lines.append("")
    lines.append(f"{'outcome':<{width}}  {'OLD':>6}  {'NEW':>6}  {'change':>6}")
    for label in labels:
        old, new = report.old_counts[label], report.new_counts[label]
        change = f"{new - old:+d}" if new != old else ""
        lines.append(f"{label:<{width}}  {old:>6}  {new:>6}  {change:>6}")
    lines.append("")
    if not report.moves and not report.changed_documents:
        lines.append("No event changes its outcome or its document.")
        return "\n".join(lines)
    lines.append(f"{len(report.moves)} events move" + (":" if report.moves else "."))
    for move in report.moves[:show]:
        lines.append(f"  {_who(move)}  {move.old} -> {move.new}")
    if len(report.moves) > show:
        lines.append(f"  … and {len(report.moves) - show} more (--json lists all)")
    if report.changed_documents:
        lines.append(f"{len(report.changed_documents)} events stay sent with a different document:")
        for move in report.changed_documents[:show]:
            lines.append(f"  {_who(move)}  {_attributes_change(move)}")
    return "\n".join(lines)


def _who(move: Move) -> str:
    email = mask_email(move.email) if move.email else "(no email)"
    return f"{move.message_id or '(no messageId)'}  {move.event or '?'!r}  {email}"


def _attributes_change(move: Move) -> str:
    old = ((move.old_document or {}).get("data") or {}).get("attributes") or {}
    new = ((move.new_document or {}).get("data") or {}).get("attributes") or {}
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    parts = []
    for key in changed:
        before = "-" if key not in old else ("…" if key in ("emails", "mobilePhones") else old[key])
        after = "-" if key not in new else ("…" if key in ("emails", "mobilePhones") else new[key])
        parts.append(f"{key}: {before} -> {after}")
    return "; ".join(parts)
