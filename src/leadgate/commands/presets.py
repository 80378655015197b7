"""``leadgate presets``: check preset files, dry-run events through one, print its JSON Schema.

``check PATH...`` validates each file and prints ``file:line: field: message`` per problem
(exit 1 if any). ``try PRESET EVENTS.jsonl`` runs the events, in order, through the same
``process()`` the processor uses, with an in-memory profile store (so an identify followed by
a track is stitched exactly as in production); nothing is sent anywhere. ``schema`` prints the
JSON Schema that ``presets/schema.json`` holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from leadgate.domain.outcome import Outcome
from leadgate.errors import PresetError
from leadgate.pipeline.presets import load_preset, preset_json_schema
from leadgate.pipeline.presets_diff import replay


def register(subparsers: Any) -> None:
    """Add ``leadgate presets {check,try,schema}`` to the CLI."""
    parser = subparsers.add_parser(
        "presets",
        help="check presets, dry-run events through one, print the preset JSON Schema",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="presets_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="validate preset files (exit 1 on any error)")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    check.set_defaults(handler=handle_check)

    dry = sub.add_parser("try", help="dry run: per event, the drop reason or the exact document")
    dry.add_argument("preset", type=Path, metavar="PRESET")
    dry.add_argument("events", type=Path, metavar="EVENTS.jsonl", help="one event per line")
    dry.add_argument("--json", action="store_true", help="one JSON object per event")
    dry.add_argument(
        "--default-region",
        default=None,
        metavar="CC",
        help="phone region for numbers without a country code (ISO alpha-2, e.g. GB)",
    )
    dry.set_defaults(handler=handle_try)

    schema = sub.add_parser("schema", help="print the preset JSON Schema")
    schema.set_defaults(handler=handle_schema)

    diff = sub.add_parser("diff", help="how OLD -> NEW would change recent real events' outcomes")
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--recent", type=int, default=1000, metavar="N", help="last N events")
    diff.add_argument("--state-dir", type=Path, default=None, help="where the inspector keeps them")
    diff.add_argument("--events", type=Path, default=None, help="replay this JSONL file instead")
    diff.add_argument("--json", action="store_true", help="the report as JSON")
    diff.set_defaults(handler=handle_diff)


def handle_check(args: argparse.Namespace) -> int:
    """Validate every file; report all problems, not just the first file's."""
    failed = False
    for path in args.paths:
        try:
            preset = load_preset(path)
        except PresetError as exc:
            failed = True
            for line in exc.errors:
                print(line, file=sys.stderr)
            continue
        sending = sum(1 for name in preset.events if preset.sends(name))
        routed = sum(
            1 for rules in preset.events.values() for rule in rules if rule.when is not None
        )
        extra = f", {routed} conditional rules" if routed else ""
        if preset.identify is not None:
            extra += f", {len(preset.identify)} identify rules"
        print(f"{path}: ok ({preset.name!r}: {sending} events write to Outreach{extra})")
    return 1 if failed else 0


def handle_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema (``make schema`` writes it to presets/schema.json)."""
    print(json.dumps(preset_json_schema(), indent=2, ensure_ascii=False))
    return 0


def summary(outcome: Outcome) -> dict[str, Any]:
    """The ``--json`` line of one event."""
    return {
        "messageId": outcome.message_id,
        "outcome": "send" if outcome.sent else "drop",
        "reason": None if outcome.drop is None else str(outcome.drop),
        "detail": outcome.detail,
        "document": None if outcome.lead is None else outcome.lead.document(),
        "condition": next((s.detail for s in outcome.stages if s.stage == "condition"), None),
        "routing": (
            None
            if outcome.lead is None or outcome.lead.routing is None
            else outcome.lead.routing.model_dump(mode="json", exclude_defaults=True)
        ),
    }


def _describe(outcome: Outcome) -> str:
    what = outcome.event_type or "?"
    if outcome.event_name:
        what += f" {outcome.event_name!r}"
    head = f"{outcome.message_id or '(no messageId)'}  {what}"
    if outcome.lead is None:
        return f"{head}  -> drop {outcome.drop}: {outcome.detail}"
    warnings = [stage.detail for stage in outcome.stages if stage.status == "warn"]
    lines = [f"{head}  -> send"]
    lines += [f"  warn: {warning}" for warning in warnings]
    lines += [
        f"  {stage.stage}: {stage.detail}"
        for stage in outcome.stages
        if stage.stage in ("condition", "routing") and stage.detail
    ]
    document = json.dumps(outcome.lead.document(), indent=2, ensure_ascii=False)
    lines += ["  " + line for line in document.splitlines()]
    return "\n".join(lines)


def handle_try(args: argparse.Namespace) -> int:
    """Dry-run the events file through the preset; sends nothing."""
    try:
        preset = load_preset(args.preset)
    except PresetError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 1
    try:
        lines = [line for line in args.events.read_bytes().splitlines() if line.strip()]
    except OSError as exc:
        print(f"{args.events}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    for outcome in replay(lines, preset, args.default_region):
        if args.json:
            print(json.dumps(summary(outcome), ensure_ascii=False))
        else:
            print(_describe(outcome))
    return 0


def handle_diff(args: argparse.Namespace) -> int:
    """Replay the inspector's last N events (or ``--events``) through OLD and NEW; compare."""
    from leadgate.pipeline.presets_diff import diff_presets, render
    from leadgate.settings import load_settings
    from leadgate.store.traces import TraceStore

    try:
        old, new = load_preset(args.old), load_preset(args.new)
    except PresetError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    if args.events is not None:
        events = [line for line in args.events.read_bytes().splitlines() if line.strip()]
        events = events[-args.recent :]
    else:
        state_dir = args.state_dir or load_settings().state_dir
        if not (state_dir / "traces.sqlite3").exists():
            print(f"{state_dir}: no recent events (the inspector keeps them)", file=sys.stderr)
            return 1
        store = TraceStore(state_dir, max_events=max(args.recent, 1))
        events = [raw for _, raw in store.recent_events(args.recent)]
        store.close()
    report = diff_presets(events, old, new)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(render(report, old_name=str(args.old), new_name=str(args.new)))
    return 0
