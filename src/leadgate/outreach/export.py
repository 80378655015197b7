"""Fetch-all: every prospect (or account) of the org into a JSON Lines file, resumably.

Reads by key (id windows ``filter[id]=a..b`` of about a page each, a few in flight, handed out
in id order: ``changefeed.by_id_windows``), never by offset (Outreach refuses offsets beyond
10,000, docs/outreach-api.md#listing), through the client's rate budget. One line per record: the
JSON:API resource object as Outreach returned it. The file is appended page by page and
flushed; a run that finds the file already there resumes after the last complete line (a line
cut off by a crash is dropped and read again). ``mirror`` seeds leadgate's mirror with every
record (source ``export``) on the way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from leadgate.domain.mirror import MalformedChange, from_resource
from leadgate.outreach.changefeed import PAGE, by_id_windows, span
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import resource_id
from leadgate.store.mirror import Mirror

PLURALS = {"prospects": "prospect", "accounts": "account"}
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What one run wrote."""

    written: int  # records written by this run
    resumed_after: int  # the id this run started after (0: from the start)
    total: int | None  # records in the file now (None if unknown)


def resume_point(path: Path) -> tuple[int, int]:
    """(records already in the file, the last id written); a partial last line is cut off."""
    if not path.exists():
        return 0, 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    lines = data[:end].splitlines()
    last = 0
    for line in reversed(lines):
        try:
            last = resource_id(orjson.loads(line)) or 0
        except orjson.JSONDecodeError:
            continue
        if last:
            break
    return len(lines), last


async def export(
    client: OutreachClient,
    kind: str,
    path: Path,
    *,
    since: str | None = None,
    mirror: Mirror | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE,
) -> ExportResult:
    """Write every ``kind`` (``prospects`` or ``accounts``) record to ``path``."""
    done, after = resume_point(path)
    known = await span(client, kind, after_id=after, since=since)
    total = done + known.remaining
    if progress is not None:
        progress(done, total)
    written = 0
    pages = by_id_windows(client, kind, known, after_id=after, since=since, page_size=page_size)
    with path.open("ab") as out:
        async for page in pages:
            out.write(b"".join(orjson.dumps(record) + b"\n" for record in page))
            out.flush()
            os.fsync(out.fileno())
            if mirror is not None:
                await mirror.apply(_changes(page))
            written += len(page)
            if progress is not None:
                progress(done + written, max(total, done + written))
    return ExportResult(written, after, done + written)


def _changes(page: list[dict[str, Any]]) -> list[Any]:
    changes = []
    for record in page:
        try:
            changes.append(from_resource(record, "export"))
        except MalformedChange:
            continue
    return changes
