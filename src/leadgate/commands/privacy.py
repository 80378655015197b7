"""``leadgate privacy``: forget a person, lift a suppression, list suppressions.

``leadgate privacy forget --email E | --user-id U | --anonymous-id A [--outreach] [--json]``
    erases the person's profiles, prospect record, mirror, enrolments and inspector traces, and
    leaves a suppression entry (salted hashes, no raw value) so their events are dropped as
    ``suppressed`` from now on; with ``--outreach`` it also files an Outreach compliance request
    (Delete) for the prospect and follows it to ``done``. An interrupted forget resumes when run
    again with the same arguments. It lists what cannot be erased in place.
``leadgate privacy unsuppress HASH... | --email E | --user-id U | --anonymous-id A``
    lifts suppression entries (events of that person are processed again).
``leadgate privacy list [--json]``
    the suppression entries by hash, kind and date, and any forget still in progress.

Exit codes: 0 done, 1 Kafka/Outreach/store failure (run again to resume), 2 bad arguments or
configuration, 3 the compliance request is not done yet (run again to keep following it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from leadgate.errors import LeadgateError
from leadgate.kafka.producer import make_producer
from leadgate.kafka.traces import publish_privacy_marker
from leadgate.outreach.compliance import ComplianceRequests
from leadgate.pipeline.email import InvalidEmail, normalize_email
from leadgate.pipeline.privacy import email_identifier
from leadgate.runtime.services import (
    open_state_store,
    outreach_client,
    started_producer,
    state_store,
)
from leadgate.settings import Settings, load_settings
from leadgate.store.traces import TraceStore
from leadgate.workers.forget import ForgetReport, Forgetter


def register(subparsers: Any) -> None:
    """Add ``leadgate privacy forget|unsuppress|list`` to the CLI."""
    parser = subparsers.add_parser(
        "privacy",
        help="forget a person (and Outreach's copy), manage suppressions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="privacy_action", metavar="ACTION", required=True)
    forget = actions.add_parser("forget", help="erase a person everywhere and suppress them")
    _person_arguments(forget)
    forget.add_argument(
        "--outreach",
        action="store_true",
        help="also file an Outreach compliance request (Delete) and follow it to done",
    )
    forget.add_argument("--json", action="store_true", help="print the report as JSON")
    forget.set_defaults(handler=handle_forget)
    lift = actions.add_parser("unsuppress", help="lift suppression entries")
    lift.add_argument("hashes", nargs="*", metavar="HASH", help="entries as 'privacy list' shows")
    _person_arguments(lift)
    lift.set_defaults(handler=handle_unsuppress)
    listing = actions.add_parser("list", help="suppression entries by hash and date")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=handle_list)


def _person_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", action="append", default=[], help="an email address")
    parser.add_argument("--user-id", action="append", default=[], help="a Segment userId")
    parser.add_argument("--anonymous-id", action="append", default=[], help="a Segment anonymousId")


def identifiers(args: argparse.Namespace) -> list[str]:
    """The identifiers the arguments name; raises ``InvalidEmail`` for an unusable address."""
    found = [email_identifier(normalize_email(e)) for e in args.email]
    found += [f"user:{u}" for u in args.user_id if u]
    found += [f"anon:{a}" for a in args.anonymous_id if a]
    return found


def _person(args: argparse.Namespace, action: str) -> list[str] | None:
    """The identifiers the arguments name, or None after saying on stderr which address is
    unusable. (A configuration error is the CLI's: ``load_settings`` raises ``ConfigError``.)"""
    try:
        return identifiers(args)
    except InvalidEmail as exc:
        print(f"leadgate privacy {action}: --email: {exc}", file=sys.stderr)
        return None


def handle_forget(args: argparse.Namespace) -> int:
    """Run (or resume) the forget job; see the module docstring for exit codes."""
    settings = load_settings()
    targets = _person(args, "forget")
    if targets is None:
        return 2
    if not targets:
        print(
            "leadgate privacy forget: name the person (--email, --user-id or --anonymous-id)",
            file=sys.stderr,
        )
        return 2
    try:
        report = asyncio.run(forget(settings, targets, outreach=args.outreach))
    except (KafkaError, OSError, LeadgateError) as exc:
        detail = exc.message if isinstance(exc, LeadgateError) else type(exc).__name__
        print(
            f"leadgate privacy forget: interrupted ({detail}); run the same command again to "
            "resume",
            file=sys.stderr,
        )
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(report.json()).decode() + "\n")
    else:
        print(describe(report))
    return 0 if report.finished else 3


async def forget(settings: Settings, targets: list[str], *, outreach: bool) -> ForgetReport:
    """Forget one person with the state store, Kafka, the local inspector store and (when
    asked) Outreach of these settings."""
    traces_file = settings.state_dir / "traces.sqlite3"
    trace_store: TraceStore | None = None
    try:
        async with (
            state_store(settings) as store,
            started_producer(settings, client_id="leadgate-privacy") as producer,
            outreach_client(settings, store) as client,
        ):
            forgetter = Forgetter(
                settings,
                store,
                producer=producer,
                compliance=ComplianceRequests(client) if outreach else None,
            )
            if traces_file.exists():
                trace_store = TraceStore(
                    settings.state_dir,
                    max_events=settings.inspector.max_events,
                    max_age_s=settings.inspector.max_age_hours * 3600.0,
                    person_hash=forgetter.hash,
                )
                forgetter.attach_trace_store(trace_store)
            return await forgetter.forget(targets, outreach=outreach)
    finally:
        if trace_store is not None:
            trace_store.close()


def describe(report: ForgetReport) -> str:
    """The report for a person to read."""
    lines = ["resumed an interrupted forget" if report.resumed else "forgot the person"]
    for name, count in sorted(report.erased.items()):
        lines.append(f"  erased {name}: {count}")
    if report.compliance_id is not None:
        lines.append(
            f"  Outreach compliance request {report.compliance_id}: {report.compliance_state}"
        )
    lines.append(f"  suppressed: {len(report.hashes)} identifier hash(es)")
    lines.extend(f"  note: {note}" for note in report.notes)
    lines.append("not erased in place:")
    lines.extend(f"  - {item}" for item in report.not_erased)
    return "\n".join(lines)


def handle_unsuppress(args: argparse.Namespace) -> int:
    """Lift the named entries; 0 when at least one existed."""
    settings = load_settings()
    targets = _person(args, "unsuppress")
    if targets is None:
        return 2
    if not targets and not args.hashes:
        print("leadgate privacy unsuppress: name entries (HASH) or a person", file=sys.stderr)
        return 2
    try:
        lifted = asyncio.run(unsuppress(settings, targets, list(args.hashes)))
    except (KafkaError, OSError) as exc:
        print(f"leadgate privacy unsuppress: failed ({type(exc).__name__})", file=sys.stderr)
        return 1
    print(f"lifted {lifted} suppression entr{'y' if lifted == 1 else 'ies'}")
    return 0 if lifted else 1


async def unsuppress(settings: Settings, targets: list[str], hashes: list[str]) -> int:
    """Remove the entries; tell the inspectors to accept the person's traces again."""
    store = await open_state_store(settings)
    producer = make_producer(settings.kafka, client_id="leadgate-privacy")
    try:
        forgetter = Forgetter(settings, store)
        wanted = sorted({*hashes, *(forgetter.hash(t) for t in targets)})
        lifted = await forgetter.suppressions.remove(wanted)
        if lifted:
            await producer.start()
            await publish_privacy_marker(producer, settings, "allow", wanted)
        return lifted
    finally:
        await producer.stop()
        await store.close()


def handle_list(args: argparse.Namespace) -> int:
    """Print the entries (hash, kind, date) and pending forget jobs; 0 always."""
    settings = load_settings()
    entries, jobs = asyncio.run(_entries(settings))
    if args.json:
        for entry in entries:
            row = {"hash": entry.hash, "kind": entry.kind, "at": _iso(entry.at)}
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return 0
    print(f"{'HASH'.ljust(34)}{'KIND'.ljust(7)}SINCE")
    for entry in entries:
        print(f"{entry.hash.ljust(34)}{entry.kind.ljust(7)}{_iso(entry.at)}")
    print(f"{len(entries)} suppression entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    for step, started in jobs:
        print(f"a forget started {_iso(started)} stopped after step {step!r}", file=sys.stderr)
    return 0


async def _entries(settings: Settings) -> tuple[list[Any], list[tuple[str, float]]]:
    store = await open_state_store(settings)
    try:
        forgetter = Forgetter(settings, store)
        jobs = [(job.step, job.started) for job in await forgetter.jobs.pending()]
        return await forgetter.suppressions.entries(limit=100_000), jobs
    finally:
        await store.close()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
