"""The shared ``StateStore``: Redis, so processes on any number of hosts see one state.

Selected by ``LEADGATE_STATE__URL=redis://…`` (``store/opening.py``). Every key starts with
``state.namespace``; the layout (``N`` is the namespace):

- ``N P:<shard>``, ``N Pc``: profiles, one body per visitor and aliases, packed into hashes;
  (``store/redis_profiles.py``, which also says what happens to the previous layout's keys);
  ``N S:<end>:<shard>``, ``N Sg``: seen messageId digests by expiry window
  (``store/redis_seen.py``);
  the person index is packed into the same hashes (``store/redis_packed.py``).
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
from collections.abc import Callable, Sequence

import orjson
import redis.asyncio as aioredis

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store.base import ProspectRecord, TokenSet
from leadgate.store.redis_docs import px_of
from leadgate.store.redis_profiles import RedisProfiles
from leadgate.store.redis_seen import RedisSeenIds

# Connections per process, and how long a call waits for a free one before it fails.
MAX_CONNECTIONS = 128
POOL_WAIT_S = 20.0


class RedisStore(RedisProfiles, RedisSeenIds):
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
        # A blocking pool: a delivery process runs up to max_in_flight lanes, each with store
        # and budget calls in flight; past the pool's size a call waits for a connection
        # (redis-py's default pool raises MaxConnectionsError at 100 instead).
        self.redis: aioredis.Redis = client or aioredis.Redis.from_pool(
            aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_S,
                decode_responses=False,
                health_check_interval=30,
            )
        )
        self.namespace = namespace
        self._anon_idle_s = anonymous_profile_idle_s
        self._anon_px = px_of(anonymous_profile_idle_s)
        self._clock = clock
        self._register_scripts()
        self._register_profile_scripts()
        self._register_seen_scripts()
        self._register_packed_scripts()

    async def ping(self) -> None:
        """Fail now (``redis.ConnectionError``) if the server cannot be reached."""
        await self.redis.ping()

    # -- profiles ------------------------------------------------------------------------------

    async def get_profile(self, keys: Sequence[str]) -> Profile:
        """The snapshot of these identity keys: the pipeline's own merge of each one's profile."""
        found = await self.get_profiles(keys)
        return merge_profiles(found.get(key) for key in dict.fromkeys(keys))

    async def put_profile(self, keys: Sequence[str], profile: Profile) -> None:
        """Store ``profile`` for every key (one body, aliases for the others)."""
        await self.put_profiles(dict.fromkeys(keys, profile))

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

    async def forget_account(self, domain: str) -> None:
        """Forget the account id of this domain (Outreach no longer has that account)."""
        await self.redis.delete(self.key("a:", domain))

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
