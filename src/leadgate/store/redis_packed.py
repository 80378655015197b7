"""Packed hashes on Redis: many small entries per key, for state whose entries are far smaller
than a Redis key's own ~150 bytes (``store/redis_profiles.py`` keeps profiles in them).

``N P:<shard>`` are ``PACKED_SHARDS`` hashes; an entry's value is
``<expiry>|<n>|<link><body>`` (``expiry`` whole epoch seconds in base 36, "" when kept;
``link`` ``n`` bytes). Hash fields carry no TTL, so every profile write sweeps one hash
(``RedisProfiles``): expired entries go within ``PACKED_SHARDS`` writes.

Collections named in ``PACKED`` (the person index: one small entry per person) live here too,
as fields ``doc:<collection>:<key>``; the entries of keys sharing the part before the first
``:`` share a hash, so ``scan_docs`` by such a prefix reads one hash. Documents of those
collections written by the previous version (one key each, ``store/redis_docs.py``) are still
read and deleted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import orjson

from leadgate.store.base import Doc
from leadgate.store.redis_docs import RedisCollections

PACKED_SHARDS = 1024
PACKED = frozenset({"privacy.person"})
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})

# KEYS: hash; ARGV: field, value, now. Stores the value unless a live entry is there.
_CLAIM = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local expiry = string.sub(v, 1, string.find(v, '|', 1, true) - 1)
  if expiry == '' or tonumber(expiry, 36) > tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def packed_shard(name: str) -> int:
    """The hash an entry named ``name`` lives in: the first 24 bits of its SHA-1 (which the
    scripts compute too, with ``redis.sha1hex``), modulo ``PACKED_SHARDS``."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:6], 16) % PACKED_SHARDS  # noqa: S324 -- spreading keys, not security


def expiry_stamp(at: float) -> str:
    """An entry's expiry: whole epoch seconds, rounded up, in base 36 (six characters)."""
    value, digits = math.ceil(at), ""
    while value:
        value, digit = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return digits or "0"


def parse_entry(raw: bytes | None, now: float) -> tuple[str, bytes] | None:
    """(link, body) of a live entry."""
    if raw is None:
        return None
    expiry, _, rest = raw.partition(b"|")
    if expiry and int(expiry, 36) <= now:
        return None
    size, _, rest = rest.partition(b"|")
    n = int(size)
    return rest[:n].decode(), rest[n:]


class RedisPackedDocs(RedisCollections):
    """The collection methods, with the ``PACKED`` collections kept in packed hashes."""

    def _packed_field(self, collection: str, key: str) -> tuple[str, str]:
        """(hash, field) of a packed document."""
        group = key.partition(":")[0]
        shard = packed_shard(f"doc:{collection}:{group}")
        return self.key("P:", str(shard)), f"doc:{collection}:{key}"

    def _register_packed_scripts(self) -> None:
        self._claim_packed = self.redis.register_script(_CLAIM)

    def _packed_value(self, doc: Doc, ttl_s: float | None) -> bytes:
        expiry = "" if ttl_s is None else expiry_stamp(self._clock() + ttl_s)
        return f"{expiry}|0|".encode() + orjson.dumps(doc)

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key, in one round trip (a packed collection's
        keys not found are looked for in the previous layout too)."""
        if collection not in PACKED:
            return await super().get_docs(collection, keys)
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in wanted:
                pipe.hget(*self._packed_field(collection, key))
            raws: list[bytes | None] = await pipe.execute()
        now = self._clock()
        out: dict[str, Doc] = {}
        for key, raw in zip(wanted, raws, strict=True):
            entry = parse_entry(raw, now)
            if entry is not None:
                out[key] = orjson.loads(entry[1])
        missing = [k for k in wanted if k not in out]
        if missing:
            out.update(await super().get_docs(collection, missing))
        return out

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key, all or none (one transaction)."""
        if collection not in PACKED:
            await super().put_docs(collection, docs, ttl_s=ttl_s)
            return
        if not docs:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, doc in docs.items():
                pipe.hset(*self._packed_field(collection, key), self._packed_value(doc, ttl_s))
            await pipe.execute()

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` only if no unexpired document is under ``key`` (one atomic script)."""
        if collection not in PACKED:
            return await super().put_doc_if_absent(collection, key, doc, ttl_s=ttl_s)
        if await super().get_docs(collection, [key]):
            return False
        hash_key, field = self._packed_field(collection, key)
        stored = await self._claim_packed(
            keys=[hash_key], args=[field, self._packed_value(doc, ttl_s), repr(self._clock())]
        )
        return bool(stored)

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys (and their previous-layout copies); how many unexpired existed."""
        if collection not in PACKED:
            return await super().delete_docs(collection, keys)
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        existed = await self.get_docs(collection, wanted)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in wanted:
                pipe.hdel(*self._packed_field(collection, key))
            await pipe.execute()
        await super().delete_docs(collection, wanted)
        return len(existed)

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Up to ``limit`` unexpired (key, document) pairs whose key starts with ``prefix``, by
        key: one hash when the prefix holds a ``:``, else every packed hash."""
        if collection not in PACKED:
            return await super().scan_docs(collection, prefix=prefix, limit=limit)
        if ":" in prefix:
            hashes = [self._packed_field(collection, prefix)[0]]
        else:
            hashes = [self.key("P:", str(shard)) for shard in range(PACKED_SHARDS)]
        head = f"doc:{collection}:"
        match = (head + prefix).translate(_GLOB) + "*"
        now = self._clock()
        found: dict[str, Doc] = {}
        for hash_key in hashes:
            async for field, raw in self.redis.hscan_iter(hash_key, match=match, count=1000):
                entry = parse_entry(raw, now)
                if entry is not None:
                    found[field.decode()[len(head) :]] = orjson.loads(entry[1])
        for key, doc in await super().scan_docs(collection, prefix=prefix, limit=limit):
            found.setdefault(key, doc)
        return [(key, found[key]) for key in sorted(found)[:limit]]
