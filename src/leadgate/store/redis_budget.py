"""One Outreach request budget in Redis, shared by every delivery process on every host.

One hash per Outreach user (``N budget:<user>``) holds the GCRA's theoretical arrival time
(``tat``), a hold (``held``: nothing may be sent before it, set after a 429 or when Outreach
says nothing is left) and the last ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` any process
saw (``rem``, ``reset``). A sorted set (``N budget:<user>:inflight``) holds the requests sent and
not yet answered, each with a deadline: a process that dies mid-request strands its entries only
until their deadline, and no process ever owns a share of the budget, so the survivors spend
the whole of it.

Each step is one Lua script, so concurrent processes never both take the last slot. Times are
epoch seconds from the callers' clocks (keep the hosts NTP-synchronised; Outreach's reset is an
epoch time too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

# Keys of a user's budget outlive its longest state (a one-hour window) by this much.
_KEY_TTL_MS = 2 * 3600 * 1000

# KEYS: state, inflight; ARGV: now, interval, tolerance, member, deadline, key ttl ms.
# Returns {verdict, seconds}: ok (sent; 0), wait (pace; try again then), held (budget spent).
_TAKE = """
local state, inflight = KEYS[1], KEYS[2]
local now, interval, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', state, 'tat', 'held', 'rem', 'reset')
local held = tonumber(st[2]) or 0
if held > now then return {'held', tostring(held - now)} end
redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
local rem, reset = tonumber(st[3]), tonumber(st[4])
if reset and now >= reset then
  rem = nil
  redis.call('HDEL', state, 'rem', 'reset')
end
if rem and rem - redis.call('ZCARD', inflight) <= 0 then
  local wait = 1.0
  if reset then wait = reset - now end
  return {'held', tostring(math.max(wait, 0.001))}
end
local tat = tonumber(st[1]) or now
if tat < now then tat = now end
local wait = tat - tol - now
if wait > 0 then return {'wait', tostring(wait)} end
redis.call('HSET', state, 'tat', tostring(tat + interval))
redis.call('ZADD', inflight, tonumber(ARGV[5]), ARGV[4])
redis.call('PEXPIRE', state, ARGV[6])
redis.call('PEXPIRE', inflight, ARGV[6])
return {'ok', '0'}
"""

# KEYS: state; ARGV: now, remaining, reset_at ('' = unknown), hold when spent (s), key ttl ms.
_OBSERVE = """
local state = KEYS[1]
local now, remaining = tonumber(ARGV[1]), tonumber(ARGV[2])
local reset = tonumber(ARGV[3])
local st = redis.call('HMGET', state, 'rem', 'reset')
local old_rem, old_reset = tonumber(st[1]), tonumber(st[2])
if old_rem and reset and old_reset and math.abs(reset - old_reset) < 1.0 then
  remaining = math.min(remaining, old_rem)
end
redis.call('HSET', state, 'rem', tostring(remaining))
if reset then redis.call('HSET', state, 'reset', tostring(reset))
else redis.call('HDEL', state, 'reset') end
if remaining <= 0 then
  local until_ = now + tonumber(ARGV[4])
  local held = tonumber(redis.call('HGET', state, 'held')) or 0
  if until_ > held then redis.call('HSET', state, 'held', tostring(until_)) end
end
redis.call('PEXPIRE', state, ARGV[5])
return remaining
"""

# KEYS: state; ARGV: until, key ttl ms.
_HOLD = """
local held = tonumber(redis.call('HGET', KEYS[1], 'held')) or 0
if tonumber(ARGV[1]) > held then redis.call('HSET', KEYS[1], 'held', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class Take:
    """The answer of ``RedisBudgetBook.take``: ``verdict`` ok, wait or held, and seconds."""

    verdict: str
    seconds: float


class RedisBudgetBook:
    """The shared budget of one Outreach user in Redis (see the module docstring)."""

    def __init__(self, client: aioredis.Redis, key: str) -> None:
        self._redis = client
        self.state_key = key
        self.inflight_key = key + ":inflight"
        self._take = client.register_script(_TAKE)
        self._observe = client.register_script(_OBSERVE)
        self._hold = client.register_script(_HOLD)

    async def take(
        self, *, now: float, interval: float, tolerance: float, member: str, deadline: float
    ) -> Take:
        """Take one request slot now, or say how long to wait (pace) or that it is held."""
        answer: list[Any] = await self._take(
            keys=[self.state_key, self.inflight_key],
            args=[repr(now), repr(interval), repr(tolerance), member, repr(deadline), _KEY_TTL_MS],
        )
        verdict, seconds = answer
        return Take(
            verdict.decode() if isinstance(verdict, bytes) else str(verdict), float(seconds)
        )

    async def done(self, member: str) -> None:
        """The request ``member`` was answered (or failed): it no longer counts as in flight."""
        await self._redis.zrem(self.inflight_key, member)

    async def observe(
        self, *, now: float, remaining: int, reset_at: float | None, hold_s: float
    ) -> None:
        """Record what Outreach said is left (the lowest count wins within one window); hold
        for ``hold_s`` when nothing is."""
        await self._observe(
            keys=[self.state_key],
            args=[repr(now), remaining, "" if reset_at is None else repr(reset_at), hold_s,
                  _KEY_TTL_MS],
        )  # fmt: skip

    async def hold(self, until: float) -> None:
        """Send nothing before ``until`` (epoch seconds), from any process."""
        await self._hold(keys=[self.state_key], args=[repr(until), _KEY_TTL_MS])
