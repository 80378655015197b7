"""Seen messageIds on Redis (the dedupe window), as 64-bit digests in few keys.

- ``N S:<end>:<shard>`` (a set of digests, intset-encoded: 8 bytes each): the seen ids
  that expire in the window ending at ``end`` (epoch seconds, a multiple of a quarter of their
  TTL); the key expires at ``end``, so an id is remembered for its TTL and at most a quarter
  more. ``SEEN_SHARDS`` sets per window keep up to 512 ids each intset-encoded
  (``set-max-intset-entries``): half a million ids per window. ``N Sg`` (a sorted set) lists the
  live window ends; a lookup checks each (about five).

``s:<messageId>`` keys of the previous layout are no longer read and expire by their own TTL (a
day by default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import orjson

from leadgate.store.profile_records import seen_digest
from leadgate.store.redis_docs import RedisCollections

SEEN_SHARDS = 1024

# ARGV: JSON [[key, [digest, ...]], ...], window registry key, window end, now. TTLs are
# relative to the caller's clock ("now"), like every expiry of the store.
_MARK_SEEN = """
local groups = cjson.decode(ARGV[1])
local now = tonumber(ARGV[4])
local px = math.max(1, math.floor((tonumber(ARGV[3]) - now) * 1000))
for _, group in ipairs(groups) do
  redis.call('SADD', group[1], unpack(group[2]))
  redis.call('PEXPIRE', group[1], px)
end
redis.call('ZADD', ARGV[2], ARGV[3], ARGV[3])
redis.call('ZREMRANGEBYSCORE', ARGV[2], '-inf', ARGV[4])
local last = redis.call('ZRANGE', ARGV[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', ARGV[2], math.max(1, math.floor((tonumber(last[2]) - now) * 1000)))
return #groups
"""

# ARGV: window registry key, seen key prefix, now, JSON [[shard, "digest"], ...]. Returns the
# positions (1-based) found.
_SEEN = """
local ends = redis.call('ZRANGEBYSCORE', ARGV[1], '(' .. ARGV[3], '+inf')
local found = {}
if #ends == 0 then return found end
for i, wanted in ipairs(cjson.decode(ARGV[4])) do
  for _, e in ipairs(ends) do
    if redis.call('SISMEMBER', ARGV[2] .. e .. ':' .. wanted[1], wanted[2]) == 1 then
      found[#found + 1] = i
      break
    end
  end
end
return found
"""


def seen_window_s(ttl_s: float) -> int:
    """The width of the seen-id windows for this TTL: a quarter of it, at least a second."""
    return max(1, math.ceil(ttl_s / 4))


class RedisSeenIds(RedisCollections):
    """The seen-id methods of ``RedisStore``."""

    def _register_seen_scripts(self) -> None:
        self._mark = self.redis.register_script(_MARK_SEEN)
        self._lookup = self.redis.register_script(_SEEN)

    async def mark_seen(self, message_ids: Sequence[str], ttl_s: float) -> None:
        """Remember these messageIds (by digest) in the window their expiry falls in (one
        script call)."""
        if not message_ids:
            return
        now = self._clock()
        width = seen_window_s(ttl_s)
        end = math.ceil((now + ttl_s) / width) * width
        groups: dict[str, list[str]] = {}
        for message_id in dict.fromkeys(message_ids):
            digest = seen_digest(message_id)
            key = self.key("S:", f"{end}:{digest % SEEN_SHARDS}")
            groups.setdefault(key, []).append(str(digest))
        await self._mark(args=[orjson.dumps(list(groups.items())), self.key("Sg"), end, repr(now)])

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds are remembered in a live window (one script call)."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return set()
        pairs = []
        for message_id in wanted:
            digest = seen_digest(message_id)
            pairs.append((digest % SEEN_SHARDS, str(digest)))  # text: Lua numbers are doubles
        found: list[int] = await self._lookup(
            args=[self.key("Sg"), self.key("S:"), repr(self._clock()), orjson.dumps(pairs)]
        )
        return {wanted[int(i) - 1] for i in found}
