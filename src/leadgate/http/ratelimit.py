"""Abuse limits: one token bucket per client IP and one per write key (docs/reliability.md H24).

A bucket refills at ``rate`` tokens a second up to ``burst``; a request takes one token or learns
how long until one is there (the ``Retry-After``). The table of buckets is bounded (least recently
used first out): an evicted bucket comes back full, which only ever favours the client, and a
flood of source addresses cannot grow memory. Time comes from an injectable monotonic clock.

The client IP is the TCP peer. ``X-Forwarded-For`` counts only when the peer is a configured
trusted proxy, and then the right-most address that is not itself a trusted proxy is the client:
a spoofed header from anyone else changes nothing (H25).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimiter:
    """Token buckets keyed by a string (an IP, a write key's name)."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when granted, else the seconds until one is available."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after_seconds(wait_s: float) -> int:
    """``Retry-After`` is whole seconds; round up so an obedient client is never early."""
    return max(1, math.ceil(wait_s))


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Trusted proxies as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The address to rate-limit and log: the peer, or what a trusted proxy says it forwarded."""
    peer = request.remote or "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer
