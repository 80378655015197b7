"""Collections of JSON documents on Redis: the ``StateStore`` collection methods of
``RedisStore`` (see ``store/redis.py`` for the key layout).

A document is ``N d:{<collection>}:<key>`` (JSON); ``N di:{<collection>}`` indexes the keys (a
sorted set read by ``scan_docs``) and ``N dx:{<collection>}`` holds the expiry of documents
stored with a TTL (their Redis TTL is set too). Expired entries leave the index at the next
write to the collection, at most ``_SWEEP`` per write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from leadgate.store.base import Doc

# Expired index entries swept per document write.
_SWEEP = 100

# KEYS: index, expiry, doc keys...; ARGV: now, px (0 = none), expires_at, prefix length, bodies...
_PUT_DOCS = """
local index, expiry = KEYS[1], KEYS[2]
local now, px, expires = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cut = tonumber(ARGV[4])
for i = 3, #KEYS do
  local key = KEYS[i]
  local member = string.sub(key, cut + 1)
  if px > 0 then
    redis.call('SET', key, ARGV[i + 2], 'PX', px)
    redis.call('ZADD', expiry, expires, member)
  else
    redis.call('SET', key, ARGV[i + 2])
    redis.call('ZREM', expiry, member)
  end
  redis.call('ZADD', index, 0, member)
end
local prefix = string.sub(KEYS[3] or '', 1, cut)
if #KEYS >= 3 then
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, SWEEP)
  for _, member in ipairs(gone) do
    redis.call('ZREM', index, member)
    redis.call('ZREM', expiry, member)
    redis.call('DEL', prefix .. member)
  end
end
return #KEYS - 2
""".replace("SWEEP", str(_SWEEP))

# KEYS: index, expiry, doc key; ARGV: now, px (0 = none), expires_at, member, body.
_CLAIM = """
local index, expiry, key = KEYS[1], KEYS[2], KEYS[3]
local now, px, expires, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', key) == 1 then
  local until_ = redis.call('ZSCORE', expiry, member)
  if not until_ or tonumber(until_) > now then
    return 0
  end
end
if px > 0 then
  redis.call('SET', key, ARGV[5], 'PX', px)
  redis.call('ZADD', expiry, expires, member)
else
  redis.call('SET', key, ARGV[5])
  redis.call('ZREM', expiry, member)
end
redis.call('ZADD', index, 0, member)
return 1
"""


def px_of(ttl_s: float) -> int:
    """A TTL in whole milliseconds, at least 1 (Redis rejects 0)."""
    return max(int(ttl_s * 1000), 1)


class RedisCollections:
    """The collection methods; ``RedisStore`` provides ``redis``, ``key`` and ``_clock``."""

    redis: aioredis.Redis
    namespace: str
    _clock: Callable[[], float]

    def key(self, kind: str, name: str = "") -> str:
        """The full Redis key of ``kind`` and ``name`` under this store's namespace."""
        return f"{self.namespace}{kind}{name}"

    def _doc_keys(self, collection: str) -> tuple[str, str, str]:
        """(document key prefix, index key, expiry key) of a collection."""
        tag = "{" + collection + "}"
        return self.key("d:", tag + ":"), self.key("di:", tag), self.key("dx:", tag)

    def _register_scripts(self) -> None:
        self._put_docs = self.redis.register_script(_PUT_DOCS)
        self._claim = self.redis.register_script(_CLAIM)

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key, in one round trip."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        prefix, _, expiry = self._doc_keys(collection)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.mget([prefix + k for k in wanted])
            pipe.zmscore(expiry, wanted)
            bodies, expiries = await pipe.execute()
        return self._live(wanted, bodies, expiries)

    def _live(
        self, keys: Sequence[str], bodies: Sequence[bytes | None], expiries: Sequence[Any]
    ) -> dict[str, Doc]:
        now = self._clock()
        out: dict[str, Doc] = {}
        for key, body, until in zip(keys, bodies, expiries, strict=True):
            if body is not None and (until is None or float(until) > now):
                out[key] = orjson.loads(body)
        return out

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key, all or none (one script)."""
        if not docs:
            return
        prefix, index, expiry = self._doc_keys(collection)
        now = self._clock()
        px, expires = (0, 0.0) if ttl_s is None else (px_of(ttl_s), now + ttl_s)
        await self._put_docs(
            keys=[index, expiry, *(prefix + k for k in docs)],
            args=[repr(now), px, repr(expires), len(prefix), *map(orjson.dumps, docs.values())],
        )

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` only if no unexpired document is under ``key`` (one atomic script)."""
        prefix, index, expiry = self._doc_keys(collection)
        now = self._clock()
        px, expires = (0, 0.0) if ttl_s is None else (px_of(ttl_s), now + ttl_s)
        stored = await self._claim(
            keys=[index, expiry, prefix + key],
            args=[repr(now), px, repr(expires), key, orjson.dumps(doc)],
        )
        return bool(stored)

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys (one transaction); how many unexpired ones existed."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        existed = await self.get_docs(collection, wanted)
        prefix, index, expiry = self._doc_keys(collection)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(prefix + k for k in wanted))
            pipe.zrem(index, *wanted)
            pipe.zrem(expiry, *wanted)
            await pipe.execute()
        return len(existed)

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Up to ``limit`` unexpired (key, document) pairs whose key starts with ``prefix``, by
        key (the index is read in pages until ``limit`` live ones are found)."""
        doc_prefix, index, expiry = self._doc_keys(collection)
        low = b"[" + prefix.encode() if prefix else b"-"
        high = b"(" + prefix.encode() + b"\xff" if prefix else b"+"
        out: list[tuple[str, Doc]] = []
        offset = 0
        while len(out) < limit:
            page = max(limit - len(out), 16)
            members: list[Any] = await self.redis.zrangebylex(index, low, high, offset, page)
            if not members:
                break
            offset += len(members)
            keys = [m.decode() for m in members]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.mget([doc_prefix + k for k in keys])
                pipe.zmscore(expiry, keys)
                bodies, expiries = await pipe.execute()
            live = self._live(keys, bodies, expiries)
            out.extend((k, live[k]) for k in keys if k in live)
        return out[:limit]

    async def incr(self, collection: str, key: str, *, by: int = 1) -> int:
        """Atomically add ``by`` to the counter under ``key`` (INCRBY)."""
        value: int = await self.redis.incrby(self.key("c:", "{" + collection + "}:" + key), by)
        return value
