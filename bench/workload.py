"""A realistic website event mix for the benchmarks, generated deterministically.

Issue 7's mix: 70% page, 18% unmapped track, 8% identify, 4% lead events; 5% without consent,
1% malformed; 70% of events from returning users (an identity seen before).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

LEAD_EVENTS = ("Lead Submitted", "Form Submitted", "Signed Up", "Demo Requested")
UNMAPPED_EVENTS = ("Product Viewed", "Video Played", "Pricing Viewed", "Button Clicked")
PAGES = ("/", "/pricing", "/blog/streaming", "/docs", "/about")


def _consent(granted: bool) -> dict[str, Any]:
    return {"categories": {"marketing": granted, "analytics": True}}


def _context(rng: random.Random, user: int, traits: bool) -> dict[str, Any]:
    context: dict[str, Any] = {
        "consent": _consent(rng.random() >= 0.05),
        "page": {"path": rng.choice(PAGES), "url": "https://www.example.com/"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        "ip": "203.0.113.7",
        "library": {"name": "leadgate.js", "version": "1.0.0"},
    }
    if traits:
        context["traits"] = _traits(user)
    return context


def _traits(user: int) -> dict[str, Any]:
    return {
        "email": f"  Person.{user}@Company{user % 97}.example.com ",
        "firstName": "Jane",
        "lastName": f"Doe{user}",
        "company": f"Company {user % 97}",
        "title": "Head of Growth",
        "phone": f"+44 7700 9{user % 100000:05d}",
        "country": "GB",
    }


def make_event(rng: random.Random, user: int, returning: bool) -> dict[str, Any]:
    """One event of the mix for ``user`` (an int identity)."""
    roll = rng.random()
    base: dict[str, Any] = {
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "anonymousId": f"anon-{user}",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "receivedAt": "2026-11-23T10:00:00.010Z",
    }
    if returning:
        base["userId"] = f"user-{user}"
    if roll < 0.70:
        base.update(type="page", name="Home", properties={"path": rng.choice(PAGES)})
        base["context"] = _context(rng, user, traits=False)
    elif roll < 0.88:
        base.update(type="track", event=rng.choice(UNMAPPED_EVENTS), properties={"plan": "pro"})
        base["context"] = _context(rng, user, traits=False)
    elif roll < 0.96:
        base.update(type="identify", userId=f"user-{user}", traits=_traits(user))
        base["context"] = _context(rng, user, traits=False)
    else:
        base.update(type="track", event=rng.choice(LEAD_EVENTS), properties={"source": "web"})
        base["context"] = _context(rng, user, traits=not returning)
    return base


def records(count: int, *, seed: int = 7, users: int = 5000) -> list[bytes]:
    """``count`` serialised events of the mix (1% malformed)."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for _ in range(count):
        user = rng.randrange(users)
        returning = rng.random() < 0.70
        if rng.random() < 0.01:
            out.append(b'{"type": "track", "event": "Lead Submitted", "userId": ')
            continue
        out.append(orjson.dumps(make_event(rng, user, returning)))
    return out


def lead_stream(leads: int, *, seed: int = 11, events_per_lead: int = 1) -> Iterator[bytes]:
    """Identified, consenting lead events (``track`` with traits in context)."""
    rng = random.Random(seed)
    for user in range(leads):
        for _ in range(events_per_lead):
            event = {
                "type": "track",
                "event": rng.choice(LEAD_EVENTS),
                "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "anonymousId": f"anon-lead-{seed}-{user}",
                "properties": {},
                "context": {"consent": _consent(True), "traits": _traits(100_000 + user)},
                "receivedAt": "2026-11-23T10:00:00.010Z",
            }
            yield orjson.dumps(event)
