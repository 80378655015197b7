"""``leadgate run``: the production workers against any Kafka.

``--role all`` (the default) runs every worker in one process: the processor, the delivery worker
and the inbound worker (Outreach's changes into leadgate's mirror; with
``LEADGATE_OUTREACH__WEBHOOK_SECRETS`` set, also the reconciliation poll). ``--role processor``,
``--role delivery`` and ``--role inbound`` split them so that each scales on its own. The broker
comes from ``LEADGATE_KAFKA__BOOTSTRAP_SERVERS``; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from leadgate.observability.logging import configure_logging
from leadgate.runtime.process import run_process
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
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean drain."""
    overrides: dict[str, object] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    settings = load_settings(**overrides)
    configure_logging(settings)
    return asyncio.run(run_process(settings, role=Role(args.role), http=False))
