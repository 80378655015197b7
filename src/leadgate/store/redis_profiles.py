"""Profiles on Redis, packed into few keys (``store/profile_records.py`` says
what is stored; this module says how).

A top-level Redis key costs some 150 bytes of its own, more than a small profile, so entries
share keys:

- ``N P:<shard>``, the packed hashes of ``store/redis_packed.py`` (``packed_shard`` of the
  field, ``placement``): field = the identity key shortened (``u<userId>``, ``a<anonymousId>``),
  value = ``<expiry>|<n>|<link><body>``: ``expiry`` epoch seconds in base 36 ("" for kept
  ``user:`` bodies), ``link`` (``n`` bytes) the body's alias list (JSON) or, for an alias (empty
  body), the primary's field. Small hashes stay
  listpack-encoded (a few bytes per entry) up to ``hash-max-listpack-entries`` / ``-value``:
  run Redis with ``hash-max-listpack-value 1024`` (the compose file does) so bodies fit.
  Hash fields carry no TTL, so every write also sweeps one shard (``N Pc`` is the cursor),
  deleting expired anonymous entries (and expired packed documents): all shards are visited
  every ``PROFILE_SHARDS`` writes.

Keys of the previous layout: ``p:<identity>`` profiles are still read when an identity has no
entry here (and deleted when it is written again or forgotten). Seen messageIds live in
``store/redis_seen.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import orjson

from leadgate.domain.profile import Profile
from leadgate.store.profile_records import (
    ANONYMOUS,
    MAX_ALIASES,
    USER,
    decode_profile,
    encode_profile,
    plan_writes,
)
from leadgate.store.redis_packed import (
    PACKED_SHARDS,
    RedisPackedDocs,
    expiry_stamp,
    packed_shard,
    parse_entry,
)

PROFILE_SHARDS = PACKED_SHARDS
_SHORT = {"user": "u", "anon": "a"}
_LONG = {"u": "user:", "a": "anon:"}

# ARGV: now, profile hash prefix, old-layout prefix, JSON [[shard, field, key], ...] (one argument:
# the client's packing of one argument per key costs more than the server's work). Returns per
# pair the body (an alias answered with its primary's), or nil.
_READ = """
local now = tonumber(ARGV[1])
local prefix, old = ARGV[2], ARGV[3]
local function parse(v)
  if not v then return nil end
  local bar = string.find(v, '|', 1, true)
  local expiry = string.sub(v, 1, bar - 1)
  if expiry ~= '' and tonumber(expiry, 36) <= now then return nil end
  local bar2 = string.find(v, '|', bar + 1, true)
  local n = tonumber(string.sub(v, bar + 1, bar2 - 1))
  return string.sub(v, bar2 + 1, bar2 + n), string.sub(v, bar2 + n + 1)
end
local function legacy(field)
  local v = redis.call('GET', old .. field)
  if v and string.sub(v, 1, 1) == 'e' then
    local bar = string.find(v, '|', 1, true)
    if tonumber(string.sub(v, 2, bar - 1)) <= now then return nil end
    v = string.sub(v, bar + 1)
  end
  return v
end
local out = {}
for _, wanted in ipairs(cjson.decode(ARGV[4])) do
  local raw = redis.call('HGET', prefix .. wanted[1], wanted[2])
  local link, body = parse(raw)
  if body == '' then
    local shard = tonumber(string.sub(redis.sha1hex(link), 1, 6), 16) % SHARDS
    local _, target = parse(redis.call('HGET', prefix .. shard, link))
    if target == '' then target = nil end
    body = target
  elseif not raw then
    body = legacy(wanted[3])
  end
  out[#out + 1] = body or false
end
return out
""".replace("SHARDS", str(PACKED_SHARDS))

# ARGV: JSON [[hash, field, expiry, link, body, merge, key], ...], max aliases, old-layout prefix,
# sweep cursor key, profile hash prefix, shards, now. A body with merge = 1 carries the aliases
# to add to those its stored entry lists.
_WRITE = """
local items = cjson.decode(ARGV[1])
local most, old = tonumber(ARGV[2]), ARGV[3]
local function aliases_of(v)
  if not v then return {} end
  local bar = string.find(v, '|', 1, true)
  local bar2 = string.find(v, '|', bar + 1, true)
  local n = tonumber(string.sub(v, bar + 1, bar2 - 1))
  if n == 0 or bar2 + n == #v then return {} end
  return cjson.decode(string.sub(v, bar2 + 1, bar2 + n))
end
for _, it in ipairs(items) do
  local hash, field, expiry, link, body = it[1], it[2], it[3], it[4], it[5]
  if it[6] == 1 then
    local new = cjson.decode(link)
    local fresh = {}
    for _, a in ipairs(new) do fresh[a] = true end
    local merged = {}
    for _, a in ipairs(aliases_of(redis.call('HGET', hash, field))) do
      if not fresh[a] then merged[#merged + 1] = a end
    end
    for _, a in ipairs(new) do merged[#merged + 1] = a end
    while #merged > most do table.remove(merged, 1) end
    if #merged == 0 then link = '' else link = cjson.encode(merged) end
  end
  redis.call('HSET', hash, field, expiry .. '|' .. #link .. '|' .. link .. body)
  redis.call('DEL', old .. it[7])
end
local now = tonumber(ARGV[7])
local shard = ARGV[5] .. (redis.call('INCR', ARGV[4]) % tonumber(ARGV[6]))
local all = redis.call('HGETALL', shard)
for i = 1, #all, 2 do
  local v = all[i + 1]
  local expiry = string.sub(v, 1, string.find(v, '|', 1, true) - 1)
  if expiry ~= '' and tonumber(expiry, 36) <= now then redis.call('HDEL', shard, all[i]) end
end
return #items
"""


@functools.lru_cache(maxsize=65_536)
def placement(key: str) -> tuple[int, str]:
    """(shard, field) of an identity key's entry (remembered: visitors come back). The field
    is the key with ``user:`` shortened to ``u`` and ``anon:`` to ``a`` (any other key gets
    ``=``): four bytes less per entry; the shard is ``packed_shard`` of the field."""
    prefix, colon, rest = key.partition(":")
    field = _SHORT[prefix] + rest if colon and prefix in _SHORT else "=" + key
    return packed_shard(field), field


def field_key(field: str) -> str:
    """The identity key an entry's field names (``placement``'s inverse)."""
    return _LONG[field[0]] + field[1:] if field[0] in _LONG else field[1:]


class RedisProfiles(RedisPackedDocs):
    """The profile methods of ``RedisStore`` (which provides ``_anon_idle_s``)."""

    _anon_idle_s: float

    def _register_profile_scripts(self) -> None:
        self._read = self.redis.register_script(_READ)
        self._write = self.redis.register_script(_WRITE)

    def _hash(self, key: str) -> str:
        return self.key("P:", str(placement(key)[0]))

    async def get_profiles(self, keys: Sequence[str]) -> dict[str, Profile]:
        """The profile stored under each key, in one script call (an alias is followed to its
        primary there); keys holding the same body share one ``Profile`` object."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        fields = orjson.dumps([(*placement(key), key) for key in wanted])
        bodies: list[bytes | None] = await self._read(
            args=[repr(self._clock()), self.key("P:"), self.key("p:"), fields]
        )
        parsed: dict[bytes, Profile] = {}
        out: dict[str, Profile] = {}
        for key, body in zip(wanted, bodies, strict=True):
            if body is None:
                continue
            profile = parsed.get(body)
            if profile is None:
                profile = parsed[body] = decode_profile(body)
            out[key] = profile
        return out

    async def put_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Store a batch in one script call (applied at once): bodies, their merged alias
        lists and the aliases; anonymous entries with their idle expiry."""
        if not profiles:
            return
        bodies, aliases = plan_writes(profiles)
        now = self._clock()
        until = expiry_stamp(now + self._anon_idle_s)
        encoded: dict[int, str] = {}
        items: list[tuple[str, str, str, str, str, int, str]] = []
        prefix = self.key("P:")
        for write in bodies:
            body = encoded.get(id(write.profile))
            if body is None:
                body = encoded[id(write.profile)] = encode_profile(write.profile).decode()
            expiry = until if write.key.startswith(ANONYMOUS) else ""
            # a user's body keeps the aliases its entry lists (merged in the script)
            merge = int(write.key.startswith(USER))
            link = orjson.dumps(list(write.aliases)).decode() if merge else ""
            shard, field = placement(write.key)
            items.append((prefix + str(shard), field, expiry, link, body, merge, write.key))
        for alias, primary in aliases.items():
            shard, field = placement(alias)
            items.append((prefix + str(shard), field, until, placement(primary)[1], "", 0, alias))
        await self._write(
            args=[
                orjson.dumps(items),
                MAX_ALIASES,
                self.key("p:"),
                self.key("Pc"),
                self.key("P:"),
                PROFILE_SHARDS,
                repr(now),
            ]
        )

    async def _entries(self, keys: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """(link, body) of the live entries under these keys (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(self._hash(key), placement(key)[1])
            raws: list[bytes | None] = await pipe.execute()
        now = self._clock()
        out: dict[str, tuple[str, bytes]] = {}
        for key, raw in zip(keys, raws, strict=True):
            entry = parse_entry(raw, now)
            if entry is not None:
                out[key] = entry
        return out

    async def linked_identities(self, keys: Sequence[str]) -> set[str]:
        """These keys, the aliases of the bodies under them and the keys they alias."""
        out = set(keys)
        entries = await self._entries(sorted(out))
        for link, body in entries.values():
            if body:
                out.update(orjson.loads(link) if link else ())
            else:
                out.add(field_key(link))
        for link, body in (await self._entries(sorted(out - set(entries)))).values():
            if body and link:
                out.update(orjson.loads(link))
        return out

    async def delete_profiles(self, keys: Sequence[str]) -> int:
        """Erase these keys, the aliases of the bodies among them (those still pointing at
        them) and the previous layout's keys; how many live entries existed."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        entries = await self._entries(wanted)
        doomed = set(wanted)
        for key, (link, body) in entries.items():
            if body and link:
                for alias, (target, alias_body) in (
                    await self._entries(orjson.loads(link))
                ).items():
                    if not alias_body and field_key(target) == key:
                        doomed.add(alias)
        live = len(await self._entries(sorted(doomed)))
        legacy = [self.key("p:", k) for k in sorted(doomed)]
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in sorted(doomed):
                pipe.hdel(self._hash(key), placement(key)[1])
            pipe.delete(*legacy)
            results = await pipe.execute()
        return live + int(results[-1])
