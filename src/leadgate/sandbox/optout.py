"""Prospect opt-outs as Outreach keeps them (Outreach OAS, prospect attributes): a status per
channel (``emailsOptStatus``, ``callsOptStatus``, ``smsOptStatus``: ``opted_in`` | ``opted_out``)
that a client writes, and what the server derives from it: when it changed (``emailsOptedAt``,
``callsOptedAt``, ``smsOptedAt``, read-only) and the older booleans (``emailOptedOut``,
``callOptedOut``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadgate.sandbox.errors import ApiError, validation_error

STATUSES = ("opted_in", "opted_out")

# status attribute -> (its read-only timestamp, its boolean mirror or None)
CHANNELS: dict[str, tuple[str, str | None]] = {
    "emailsOptStatus": ("emailsOptedAt", "emailOptedOut"),
    "callsOptStatus": ("callsOptedAt", "callOptedOut"),
    "smsOptStatus": ("smsOptedAt", None),
}


def _iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(epoch * 1000) % 1000:03d}Z"
    )


def check_opt_outs(attributes: dict[str, Any]) -> None:
    """422 naming the attribute when a status is not ``opted_in`` or ``opted_out``."""
    for name in CHANNELS:
        value = attributes.get(name)
        if value is not None and value not in STATUSES:
            raise ApiError(
                validation_error(
                    f"'{name}' must be one of: {', '.join(STATUSES)}.",
                    pointer=f"/data/attributes/{name}",
                )
            )


def stamp_opt_outs(attributes: dict[str, Any], before: dict[str, Any], now: float) -> None:
    """Derive the timestamp and boolean of every channel whose status this write changed."""
    for name, (stamp, mirror) in CHANNELS.items():
        status = attributes.get(name)
        if status is None or status == before.get(name):
            continue
        attributes[stamp] = _iso_ms(now)
        if mirror is not None:
            attributes[mirror] = status == "opted_out"
