"""The shared ``StateStore``: Redis, so processes on any number of hosts see one state.

Selected by ``LEADGATE_STATE__URL=redis://…`` (``store/opening.py``). Every key starts with
``state.namespace``; the layout (``N`` is the namespace):

- ``N p:<identity>``: a profile (JSON). Anonymous ones (``anon:…``) expire after
  ``state.anonymous_profile_idle_s`` without a change (their value starts ``e<expiry>|``);
  known users' (``user:…``) are kept.
- ``N s:<messageId>``: a seen messageId; its value is the expiry, and Redis drops it then.
- ``N pr:<email>``, ``N a:<domain>``, ``N tok``: prospect records, account ids, the token pair.
- ``N d:{<collection>}:<key>`` and its index and expiry sets: collections of JSON documents
  (``store/redis_docs.py``); ``N c:{<collection>}:<key>``: a counter.

Expiry is judged by the caller's clock (the same clock as the SQLite store, so one contract
suite holds for both); Redis's own TTLs, set to the same lifetimes, remove the keys. A batch read
or write is one round trip (a pipeline, a transaction where it must be all or none, or one Lua
script where it must be atomic).

Durability is Redis's: run it with ``appendonly yes`` (the compose file does) so an acknowledged
write, the rotated token pair included, survives a Redis restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store.base import ProspectRecord, TokenSet
from leadgate.store.redis_docs import RedisCollections, px_of

_ANONYMOUS = "anon:"
# Keys per MGET: large batches go in slices of one pipeline (one round trip either way).
_SLICE = 1000


# ARGV[1]: a JSON array of [key, px, value] (px 0: no TTL). One command with one argument for a
# whole batch, applied at once: the client's packing of a pipeline of one SET per key, or of one
# argument per key, costs far more than the server's work.
_SET_ALL = """
local items = cjson.decode(ARGV[1])
for _, item in ipairs(items) do
  if item[2] == 0 then
    redis.call('SET', item[1], item[3])
  else
    redis.call('SET', item[1], item[3], 'PX', item[2])
  end
end
return #items
"""


class RedisStore(RedisCollections):
    """``StateStore`` on Redis; see the module docstring for the key layout."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "leadgate:",
        anonymous_profile_idle_s: float = 30 * 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.redis: aioredis.Redis = client or aioredis.Redis.from_url(
            url, decode_responses=False, health_check_interval=30
        )
        self.namespace = namespace
        self._anon_idle_s = anonymous_profile_idle_s
        self._anon_px = px_of(anonymous_profile_idle_s)
        self._clock = clock
        self._register_scripts()
        self._set_all = self.redis.register_script(_SET_ALL)

    async def ping(self) -> None:
        """Fail now (``redis.ConnectionError``) if the server cannot be reached."""
        await self.redis.ping()

    # -- profiles ------------------------------------------------------------------------------

    async def get_profile(self, keys: Sequence[str]) -> Profile:
        """The snapshot of these identity keys: the pipeline's own merge of each one's profile."""
        found = await self.get_profiles(keys)
        return merge_profiles(found.get(key) for key in dict.fromkeys(keys))

    async def put_profile(self, keys: Sequence[str], profile: Profile) -> None:
        """Store ``profile`` under every key (so a later event with either id finds it)."""
        await self.put_profiles(dict.fromkeys(keys, profile))

    async def get_profiles(self, keys: Sequence[str]) -> dict[str, Profile]:
        """The profile stored under each key, in one round trip (absent keys are left out)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(wanted), _SLICE):
                pipe.mget([self.key("p:", k) for k in wanted[start : start + _SLICE]])
            slices: list[list[bytes | None]] = await pipe.execute()
        parsed: dict[bytes, Profile] = {}
        out: dict[str, Profile] = {}
        bodies = (body for chunk in slices for body in chunk)
        now = self._clock()
        for key, body in zip(wanted, bodies, strict=True):
            if body is None:
                continue
            if body[:1] == b"e":  # an anonymous profile: expiry, then the JSON
                until, _, body = body[1:].partition(b"|")
                if float(until) <= now:
                    continue
            profile = parsed.get(body)
            if profile is None:
                profile = parsed[body] = Profile.model_validate_json(body)
            out[key] = profile
        return out

    async def put_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Store each profile under its key in one script (applied at once, all of them);
        anonymous ones with their idle TTL (restarted by every change)."""
        if not profiles:
            return
        bodies: dict[int, str] = {}
        until = "e" + repr(self._clock() + self._anon_idle_s) + "|"
        items: list[tuple[str, int, str]] = []
        prefix = self.key("p:")
        for key, profile in profiles.items():
            body = bodies.get(id(profile))
            if body is None:
                body = bodies[id(profile)] = profile.model_dump_json()
            if key.startswith(_ANONYMOUS):
                items.append((prefix + key, self._anon_px, until + body))
            else:
                items.append((prefix + key, 0, body))
        await self._set_all(args=[orjson.dumps(items)])

    async def delete_profiles(self, keys: Sequence[str]) -> int:
        """Erase the profiles stored under these keys (one round trip); how many existed."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        deleted: int = await self.redis.delete(*(self.key("p:", k) for k in wanted))
        return deleted

    # -- seen messageIds -----------------------------------------------------------------------

    async def mark_seen(self, message_ids: Sequence[str], ttl_s: float) -> None:
        """Remember these messageIds for ``ttl_s`` seconds (one round trip)."""
        if not message_ids:
            return
        expires = repr(self._clock() + ttl_s)
        px = px_of(ttl_s)
        prefix = self.key("s:")
        items = [(prefix + m, px, expires) for m in dict.fromkeys(message_ids)]
        await self._set_all(args=[orjson.dumps(items)])

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds were already processed (and not yet expired)."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return set()
        values: list[Any] = await self.redis.mget([self.key("s:", m) for m in wanted])
        now = self._clock()
        return {m for m, v in zip(wanted, values, strict=True) if v is not None and float(v) > now}

    # -- Outreach ids --------------------------------------------------------------------------

    async def get_prospect(self, email: str) -> ProspectRecord | None:
        """What we know of the prospect with this normalised email."""
        body = await self.redis.get(self.key("pr:", email))
        if body is None:
            return None
        doc = orjson.loads(body)
        return ProspectRecord(
            prospect_id=int(doc["id"]),
            tags=frozenset(doc["tags"]),
            attributes_hash=str(doc["hash"]),
            account_id=doc.get("account"),
        )

    async def put_prospect(self, email: str, record: ProspectRecord) -> None:
        """Remember the prospect for this email."""
        body = orjson.dumps(
            {
                "id": record.prospect_id,
                "tags": sorted(record.tags),
                "hash": record.attributes_hash,
                "account": record.account_id,
            }
        )
        await self.redis.set(self.key("pr:", email), body)

    async def forget_prospect(self, email: str) -> None:
        """Forget a prospect (e.g. Outreach answered 404 for its id)."""
        await self.redis.delete(self.key("pr:", email))

    async def get_account(self, domain: str) -> int | None:
        """The Outreach account id for this domain, if known."""
        body = await self.redis.get(self.key("a:", domain))
        return None if body is None else int(body)

    async def put_account(self, domain: str, account_id: int) -> None:
        """Remember the Outreach account id for this domain."""
        await self.redis.set(self.key("a:", domain), str(account_id))

    # -- OAuth tokens --------------------------------------------------------------------------

    async def load_tokens(self) -> TokenSet | None:
        """The stored OAuth token pair, if any."""
        body = await self.redis.get(self.key("tok"))
        if body is None:
            return None
        doc = orjson.loads(body)
        return TokenSet(str(doc["access"]), str(doc["refresh"]), float(doc["expires_at"]))

    async def save_tokens(self, tokens: TokenSet) -> None:
        """Store the pair as one value (one SET: a reader sees the old pair or the new, never
        half of each)."""
        body = orjson.dumps(
            {
                "access": tokens.access_token,
                "refresh": tokens.refresh_token,
                "expires_at": tokens.expires_at,
            }
        )
        await self.redis.set(self.key("tok"), body)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()
