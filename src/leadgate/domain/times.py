"""Times as leadgate writes and reads them: ISO 8601 in UTC with milliseconds and a ``Z``.

Pure: nothing here reads the clock; callers pass ``time.time()`` (or their injected clock).
"""

from __future__ import annotations

from datetime import UTC, datetime

# Above this a number is milliseconds since the epoch, not seconds (year 5138 in seconds).
_MILLIS_FROM = 1e11


def iso_utc(moment: float | datetime) -> str:
    """``2026-11-23T10:00:00.120Z`` from epoch seconds or a datetime (naive means UTC)."""
    if isinstance(moment, datetime):
        when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        when = datetime.fromtimestamp(moment, UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime | None:
    """An aware datetime from ISO 8601 (``Z`` or an offset; no zone, or a date alone, means
    UTC), or None when ``text`` is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_seconds(value: object) -> float | None:
    """Epoch seconds from an ISO 8601 string or a number (seconds or milliseconds, also as
    text); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > _MILLIS_FROM else float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return epoch_seconds(float(value))
    except ValueError:
        pass
    moment = parse_iso(value)
    return moment.timestamp() if moment is not None else None
