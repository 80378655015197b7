"""``leadgate send EVENTS.jsonl``: run events through the pipeline and deliver them to Outreach now.

The "test your integration" path: no Kafka, no workers. Each event goes through the same
``process()`` as production (profiles kept in the state store, so an identify followed by a
track is stitched), and each resulting lead is delivered with retries (``deliver()``, through
the dispatcher). Running the same file twice changes nothing in Outreach: the second run finds
every prospect unchanged.
Configuration comes from the settings (``LEADGATE_OUTREACH__BASE_URL`` ... or the config file);
state lives in ``--state-dir`` (default ``LEADGATE_STATE_DIR``, else ``.leadgate/``).

Exit status: 0 when every lead was delivered (drops are fine), 1 when one was dead-lettered or
the input is unusable, 2 when the integration stopped (authorisation, scope, media type).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from leadgate.domain.events import decode
from leadgate.domain.outcome import Outcome
from leadgate.errors import ConfigError, IntegrationStopped, PresetError
from leadgate.outreach.deliver import Delivery, deliver
from leadgate.pipeline.crm import with_source
from leadgate.pipeline.presets import Preset, load_preset
from leadgate.pipeline.process import identities_of, process
from leadgate.runtime.services import outreach_dispatcher, state_store
from leadgate.settings import Settings, load_settings
from leadgate.workers.outcomes import OutcomePublisher


def register(subparsers: Any) -> None:
    """Add ``leadgate send`` to the CLI."""
    parser = subparsers.add_parser(
        "send",
        help="run events through the pipeline and deliver them to Outreach now (no Kafka)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("events", type=Path, metavar="EVENTS.jsonl", help="one event per line")
    parser.add_argument("--preset", type=Path, default=None, help="preset file (default: config)")
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    parser.add_argument("--state-dir", type=Path, default=None, help="where state is kept")
    parser.add_argument(
        "--source",
        default=None,
        metavar="NAME",
        help="the source system of records that name none (context.leadgate.source), e.g. the "
        "CRM's write-key name: its outcomes and opportunity ids use it",
    )
    parser.set_defaults(handler=handle_send)


def handle_send(args: argparse.Namespace) -> int:
    """Load settings, the preset and the events, then send them."""
    overrides: dict[str, Any] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    try:
        settings = load_settings(**overrides)
        preset = load_preset(args.preset or settings.pipeline.presets[0])
        lines = [line for line in args.events.read_bytes().splitlines() if line.strip()]
        if args.source:
            lines = [with_source(line, args.source) for line in lines]
    except PresetError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    except (ConfigError, ValueError) as exc:
        print(f"leadgate send: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"leadgate send: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    return asyncio.run(send(settings, preset, lines, as_json=args.json, out=sys.stdout))


async def send(
    settings: Settings, preset: Preset, lines: list[bytes], *, as_json: bool, out: TextIO
) -> int:
    """Process and deliver ``lines`` in order; print one report per event; the exit status."""
    status = 0
    outcomes = OutcomePublisher(None, settings)  # builds each record's outcome for the report
    async with state_store(settings) as store, outreach_dispatcher(settings, store) as dispatcher:
        for line in lines:
            head = decode(line)
            snapshot = await store.get_profile(identities_of(head))
            region = settings.pipeline.default_phone_region
            outcome = process(line, snapshot, preset, default_region=region, head=head)
            if outcome.profile is not None:
                await store.put_profile(outcome.identities, outcome.profile)
            delivery = None
            if outcome.lead is not None:
                try:
                    delivery = await deliver(dispatcher, outcome.lead, settings.outreach)
                except IntegrationStopped as stop:
                    print(f"leadgate send: {stop.message}\n  what to do: {stop.action}",
                          file=sys.stderr)  # fmt: skip
                    return 2
                if delivery.outcome != "delivered":
                    status = 1
            report = summary(outcome, delivery)
            if outcome.lead is not None and outcome.lead.source is not None and delivery:
                report["writeBack"] = write_back(outcomes, outcome, delivery)
            print(json.dumps(report, ensure_ascii=False) if as_json else describe(report),
                  file=out, flush=True)  # fmt: skip
    return status


def summary(outcome: Outcome, delivery: Delivery | None) -> dict[str, Any]:
    """The ``--json`` object of one event."""
    result = delivery.result if delivery is not None else None
    routed = result.routing.stages if result is not None and result.routing is not None else ()
    return {
        "messageId": outcome.message_id,
        "outcome": "dropped" if delivery is None else delivery.outcome,
        "reason": str(outcome.drop) if delivery is None and outcome.drop else (
            delivery.reason if delivery is not None else None
        ),
        "detail": outcome.detail if delivery is None else (delivery.message or None),
        "document": outcome.lead.document() if outcome.lead is not None else None,
        "prospectId": result.prospect_id if result is not None else None,
        "recordType": result.record_type if result is not None else None,
        "recordId": result.record_id if result is not None else None,
        "accountId": result.account_id if result is not None else None,
        "action": result.action if result is not None else None,
        "routing": [stage.to_json() for stage in routed],
        "requests": [
            {"method": e.method, "path": e.path, "status": e.status}
            for e in (delivery.exchanges if delivery is not None else [])
        ],
    }  # fmt: skip


def write_back(outcomes: OutcomePublisher, outcome: Outcome, delivery: Delivery) -> dict[str, Any]:
    """The outcome the stream would publish on ``leadgate.outcomes`` for a CRM record."""
    lead = outcome.lead
    assert lead is not None
    assert lead.source is not None
    result = delivery.result
    if delivery.outcome == "delivered" and result is not None:
        built = outcomes.build(
            lead.source,
            outcome.message_id,
            status="ok",
            action=result.action,
            record_type=result.record_type,
            record_id=result.record_id,
        )
    else:
        reason = delivery.reason or "vendor_permanent"
        built = outcomes.build(
            lead.source,
            outcome.message_id,
            status="failed",
            action="dead_lettered",
            reason=reason,
            detail=delivery.message,
        )
    return built.to_json()


def describe(report: dict[str, Any]) -> str:
    """One human line per event, plus its requests."""
    head = f"{report['messageId'] or '(no messageId)'}  -> {report['outcome']}"
    if report["outcome"] == "delivered":
        head += f": {report['recordType']} {report['recordId']} {report['action']}"
    elif report["reason"]:
        head += f" ({report['reason']}): {report['detail'] or ''}".rstrip(": ")
    routing = [f"    {s['stage']}: {s['detail']}" for s in report.get("routing") or []]
    requests = [f"    {r['method']} {r['path']} -> {r['status']}" for r in report["requests"]]
    return "\n".join([head, *routing, *requests])
