"""A stream of website events with known leads, and a producer that spreads it over time: what
the crash and chaos tests feed a running pipeline."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from leadgate.settings import Settings
from tests.plugins.streams import identify, produce_events, track

# The preset's lead events and the tag each adds; "Pricing Viewed" is a track no rule maps.
TAGS = {"Lead Submitted": "lead", "Form Submitted": "form", "Signed Up": "signup"}
NAMES = (*TAGS, "Pricing Viewed")


def lead_stream(
    users: int, *, seed: int, prefix: str, tracks: int, pages: int = 0
) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Per user an identify, ``pages`` page views and ``tracks`` tracks drawn from ``NAMES``;
    and the prospects they must make (email -> tags)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    expected: dict[str, set[str]] = {}
    for n in range(users):
        user, email = f"{prefix}-{n}", f"{prefix}{n}@gmail.com"
        events.append(identify(user, email))
        for _ in range(pages):
            page = {**track(user, "Pricing Viewed"), "type": "page", "name": "Pricing"}
            page.pop("event")
            events.append(page)
        for _ in range(tracks):
            name = rng.choice(NAMES)
            events.append(track(user, name))
            if name in TAGS:
                expected.setdefault(email, {"Signal"}).add(TAGS[name])
    return events, expected


async def produce_slowly(
    settings: Settings, events: list[dict[str, Any]], *, chunks: int, pause_s: float
) -> None:
    """Produce ``events`` to the events topic in ``chunks`` pieces, ``pause_s`` apart, so that
    they keep flowing while a test kills or stops workers."""
    size = -(-len(events) // chunks)
    kafka = settings.kafka
    for start in range(0, len(events), size):
        await produce_events(
            kafka.bootstrap_servers, kafka.events_topic, events[start : start + size]
        )
        await asyncio.sleep(pause_s)
