"""The one bounded cache of values the hot path derives again and again (parsed consent, masked
log values): a dict that forgets everything when full.

Cheaper than an LRU (one length check per miss, no bookkeeping per hit) and good enough when the
working set is small (a site's handful of consent objects) or recurring (log keys). For a pure
function of hashable arguments use ``functools.lru_cache`` instead; those are the two idioms.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``max_entries`` values; ``get`` is the dict's own (as fast as a dict lookup)."""

    __slots__ = ("_entries", "_max", "get")

    def __init__(self, max_entries: int) -> None:
        self._entries: dict[K, V] = {}
        self._max = max_entries
        self.get: Callable[[K], V | None] = self._entries.get

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` under ``key`` (forgetting everything first when full); ``value``."""
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = value
        return value

    def clear(self) -> None:
        """Forget everything (e.g. when what the values were derived from changed)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
