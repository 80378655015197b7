"""``leadgate outreach``: leadgate's side of the two-way sync with Outreach.

``leadgate outreach webhooks ensure``  register leadgate's webhook
    (``LEADGATE_OUTREACH__WEBHOOK_URL``, signed with the first of
    ``LEADGATE_OUTREACH__WEBHOOK_SECRETS``, every resource and action): the one with our URL is
    reused and repaired, else one is created;
``leadgate outreach webhooks list``    every webhook of the org (ours marked; secrets never shown);
``leadgate outreach webhooks remove``  delete ours (those with our URL); others are never touched;
``leadgate outreach export prospects|accounts --out FILE.jsonl [--since ISO] [--to-mirror]``
    fetch-all by keyset paging under the rate budget, with a progress bar; run it again after an
    interruption and it resumes; ``--to-mirror`` also seeds leadgate's mirror (on install).

Exit status: 0 on success, 1 on a failure (the message says what), 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadgate.errors import ConfigError, LeadgateError
from leadgate.outreach import webhooks
from leadgate.outreach.export import PLURALS, export
from leadgate.outreach.jsonapi import attributes, resource_id
from leadgate.runtime.services import outreach_client, state_store
from leadgate.settings import Settings, load_settings
from leadgate.store.mirror import Mirror


def register(subparsers: Any) -> None:
    """Add ``leadgate outreach`` to the CLI."""
    parser = subparsers.add_parser(
        "outreach",
        help="two-way sync: register the webhook, export prospects/accounts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="where state is kept")
    sub = parser.add_subparsers(dest="outreach_command", required=True)
    hooks = sub.add_parser("webhooks", help="leadgate's webhook registration in Outreach")
    hooks.add_argument("action", choices=["ensure", "list", "remove"])
    hooks.set_defaults(handler=handle_webhooks)
    out = sub.add_parser("export", help="fetch every prospect or account into a JSONL file")
    out.add_argument("kind", choices=sorted(PLURALS))
    out.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    out.add_argument("--since", default=None, help="only records updated at or after (ISO 8601)")
    out.add_argument("--to-mirror", action="store_true", help="also seed leadgate's mirror")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    out.set_defaults(handler=handle_export)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    return load_settings(**overrides)


def _run(name: str, coroutine: Any) -> int:
    try:
        result: int = asyncio.run(coroutine)
    except ConfigError as exc:
        print(f"leadgate outreach {name}: {exc.message}", file=sys.stderr)
        return 2
    except LeadgateError as exc:
        print(f"leadgate outreach {name}: {exc.message}", file=sys.stderr)
        return 1
    return result


def handle_webhooks(args: argparse.Namespace) -> int:
    """``ensure``, ``list`` or ``remove``."""
    try:
        settings = _settings(args)
    except (ConfigError, ValueError) as exc:
        print(f"leadgate outreach webhooks: {exc}", file=sys.stderr)
        return 2
    return _run("webhooks", manage_webhooks(settings, args.action))


async def manage_webhooks(settings: Settings, action: str) -> int:
    """Do ``action`` and print what was done."""
    async with state_store(settings) as store, outreach_client(settings, store) as client:
        if action == "ensure":
            done = await webhooks.ensure(client)
            print(f"webhook {done.webhook_id} {done.action}: {done.url}")
        elif action == "remove":
            removed = await webhooks.remove(client)
            print(f"removed: {', '.join(map(str, removed)) or 'nothing (no webhook has our URL)'}")
        else:
            ours = settings.outreach.webhook_url
            for hook in await webhooks.list_webhooks(client):
                a = attributes(hook)
                mark = "  (leadgate)" if ours and a.get("url") == ours else ""
                state = "active" if a.get("active") else f"inactive {a.get('disabledReason') or ''}"
                print(
                    f"{resource_id(hook)}  {a.get('resource')}/{a.get('action')}  "
                    f"{state.strip()}  {a.get('url')}{mark}"
                )
    return 0


def handle_export(args: argparse.Namespace) -> int:
    """Export one kind of record."""
    try:
        settings = _settings(args)
    except (ConfigError, ValueError) as exc:
        print(f"leadgate outreach export: {exc}", file=sys.stderr)
        return 2
    return _run(
        "export",
        run_export(settings, args.kind, args.out, args.since, args.to_mirror, not args.quiet),
    )


async def run_export(
    settings: Settings, kind: str, out: Path, since: str | None, to_mirror: bool, bar: bool
) -> int:
    """Export with a progress bar (records of the total) on stderr."""
    async with state_store(settings) as store, outreach_client(settings, store) as client:
        mirror = Mirror(store) if to_mirror else None
        with Progress(
            TextColumn(f"exporting {kind}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not bar,
            transient=False,
        ) as progress:
            task = progress.add_task(kind, total=None)

            def advance(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            result = await export(client, kind, out, since=since, mirror=mirror, progress=advance)
    resumed = f" (resumed after id {result.resumed_after})" if result.resumed_after else ""
    print(f"{result.written} {kind} written to {out}{resumed}; {result.total} in the file")
    return 0
