"""``leadgate run``: the production workers against any Kafka.

``--role all`` (the default) runs every worker in one process: the processor, the delivery worker
and the inbound worker (Outreach's changes into leadgate's mirror; with
``LEADGATE_OUTREACH__WEBHOOK_SECRETS`` set, also the reconciliation poll). ``--role processor``,
``--role delivery`` and ``--role inbound`` split them so that each scales on its own.
``--processes N`` runs N such processes in the role's consumer group under a supervisor that
restarts one that dies (the processor is CPU-bound: one process per core); with the Redis state
store (``LEADGATE_STATE__URL``) they share profiles, the Outreach budget and the token. The broker
comes from ``LEADGATE_KAFKA__BOOTSTRAP_SERVERS``; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from leadgate.observability.logging import configure_logging
from leadgate.runtime.process import run_process
from leadgate.runtime.processes import stop_grace_s, supervise
from leadgate.runtime.roles import Role
from leadgate.settings import load_settings


def register(subparsers: Any) -> None:
    """Add ``leadgate run`` to the CLI."""
    parser = subparsers.add_parser(
        "run",
        help="run the processor and/or delivery workers against Kafka",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--role",
        choices=[role.value for role in Role],
        default=Role.ALL.value,
        help="which stages to run in this process (default: all)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the state store lives (default: $LEADGATE_STATE_DIR or .leadgate/)",
    )
    parser.add_argument(
        "--processes",
        type=_positive,
        default=1,
        metavar="N",
        help="run N processes of the role in its consumer group, supervised (default: 1)",
    )
    parser.set_defaults(handler=handle)


def _positive(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return value


def handle(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean drain."""
    overrides: dict[str, object] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    settings = load_settings(**overrides)
    configure_logging(settings)
    if args.processes > 1:
        extra = ["--state-dir", str(args.state_dir)] if args.state_dir is not None else []
        grace_s = stop_grace_s(settings.kafka)
        return asyncio.run(supervise(args.role, args.processes, extra, grace_s=grace_s))
    return asyncio.run(run_process(settings, role=Role(args.role), http=False))
