"""``leadgate dlq``: look at and replay dead-lettered records.

``leadgate dlq list [--reason R] [--since T] [--json]`` shows where each dead letter came from,
why it failed, and the messageIds and event names inside (never emails or other traits).
``leadgate dlq replay [--reason R] [--since T]`` re-publishes them to their original topics with
their messageIds unchanged, so a replay creates no duplicate prospect; it reads the dead-letter
topic up to its end at the start, so records that fail again are not replayed twice in one run.
The broker comes from ``LEADGATE_KAFKA__BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import Any, TextIO

import orjson
from aiokafka.errors import KafkaError

from leadgate.errors import ConfigError
from leadgate.kafka.deadletter_reader import list_dead_letters, parse_since
from leadgate.kafka.deadletter_replay import replay
from leadgate.pipeline.privacy import record_identifiers
from leadgate.runtime.services import started_producer, state_store
from leadgate.settings import KafkaSettings, Settings, load_settings
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt

_COLUMNS = (
    ("where", 10),
    ("dead_lettered_at", 24),
    ("reason", 22),
    ("stage", 11),
    ("status", 6),
    ("attempts", 8),
    ("first_failure", 29),
    ("source", 30),
)


def register(subparsers: Any) -> None:
    """Add ``leadgate dlq list`` and ``leadgate dlq replay`` to the CLI."""
    parser = subparsers.add_parser(
        "dlq",
        help="list or replay dead-lettered records",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    for name, help_text, handler in (
        ("list", "show dead letters (no PII)", handle_list),
        ("replay", "re-publish dead letters to their original topics", handle_replay),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--reason", help="only this reason (e.g. vendor_validation)")
        action.add_argument(
            "--since",
            type=_since,
            help="only records dead-lettered at or after this ISO 8601 time (UTC if no zone)",
        )
        if name == "list":
            action.add_argument("--json", action="store_true", help="one JSON object per line")
        action.set_defaults(handler=handler)


def _since(text: str) -> datetime:
    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _settings() -> Settings | None:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"leadgate: configuration error:\n{exc}", file=sys.stderr)
        return None


def handle_list(args: argparse.Namespace) -> int:
    """Print the matching dead letters; 0 even when there are none."""
    full = _settings()
    if full is None:
        return 2
    settings = full.kafka
    try:
        letters = asyncio.run(list_dead_letters(settings, reason=args.reason, since=args.since))
    except (KafkaError, OSError) as exc:
        print(_unreachable(settings, exc), file=sys.stderr)
        return 1
    rows = [letter.summary() for letter in letters]
    if args.json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return 0
    _print_table(rows, sys.stdout)
    print(f"{len(rows)} dead letter(s) on {settings.deadletter_topic}", file=sys.stderr)
    return 0


def _offsets(row: dict[str, Any]) -> str:
    """``offset``, or ``first-last`` for a dead-lettered batch (``undecodable_batch``)."""
    first, last = row["source_offset"], row.get("source_last_offset") or row["source_offset"]
    return first if last == first else f"{first}-{last}"


def _print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    header = "  ".join(name.upper().ljust(width) for name, width in _COLUMNS)
    out.write(header + "  MESSAGE_IDS / EVENTS\n")
    for row in rows:
        cells = {
            **row,
            "where": f"{row['partition']}:{row['offset']}",
            "source": f"{row['topic']}[{row['source_partition']}]@{_offsets(row)}",
        }
        line = "  ".join(str(cells[name]).ljust(width) for name, width in _COLUMNS)
        ids = ",".join(row["message_ids"]) or "-"
        events = ",".join(row["events"]) or "-"
        out.write(f"{line}  {ids} / {events}\n")


def handle_replay(args: argparse.Namespace) -> int:
    """Replay the matching dead letters; 0 when all were acknowledged by the broker."""
    settings = _settings()
    if settings is None:
        return 2
    bar = ProgressBar(sys.stderr, "replaying")
    try:
        result = asyncio.run(_replay(settings, args.reason, args.since, bar))
    except (KafkaError, OSError) as exc:
        bar.finish()
        print(_unreachable(settings.kafka, exc), file=sys.stderr)
        return 1
    bar.finish()
    print(
        f"replayed {result.replayed} of {result.scanned} dead letter(s)"
        + (f"; {result.skipped} without a source topic were left" if result.skipped else "")
        + (
            f"; {result.suppressed} of forgotten people were left (leadgate privacy)"
            if result.suppressed
            else ""
        ),
        file=sys.stderr,
    )
    return 0


async def _replay(
    settings: Settings, reason: str | None, since: datetime | None, bar: ProgressBar
) -> Any:
    async with (
        state_store(settings) as store,
        started_producer(settings, client_id="leadgate-dlq-replay") as producer,
    ):
        suppressions = SuppressionList(store, PersonHasher(load_salt(settings)))

        async def forgotten(value: bytes | None) -> bool:
            """A forgotten person's record stays in the dead-letter topic."""
            return bool(await suppressions.suppressed(record_identifiers(value)))

        return await replay(
            producer,
            settings.kafka,
            reason=reason,
            since=since,
            on_progress=bar,
            forgotten=forgotten,
        )


def _unreachable(settings: KafkaSettings, exc: BaseException) -> str:
    return (
        f"leadgate: Kafka at {settings.bootstrap_servers} failed: {type(exc).__name__}"
        " (check LEADGATE_KAFKA__BOOTSTRAP_SERVERS)"
    )


class ProgressBar:
    """A progress bar on a stream, for scans long enough to need one.

    On a terminal it redraws one line; elsewhere (CI logs) it prints a line every few seconds.
    """

    def __init__(
        self, stream: TextIO, label: str, *, min_total: int = 200, interval_s: float = 0.2
    ) -> None:
        self._stream = stream
        self._label = label
        self._min_total = min_total
        self._tty = stream.isatty()
        self._interval_s = interval_s if self._tty else 5.0
        self._next = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        """Report ``done`` of ``total``; draws at most once per interval (and at the end)."""
        now = time.monotonic()
        if total < self._min_total or (now < self._next and done < total):
            return
        self._next = now + self._interval_s
        width = 30
        filled = width * done // total
        text = f"{self._label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        self._stream.write(("\r" + text) if self._tty else (text + "\n"))
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        """End the bar's line."""
        if self._shown and self._tty:
            self._stream.write("\n")
            self._stream.flush()
        self._shown = False
