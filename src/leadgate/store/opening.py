"""Opening the configured state store: the one place that chooses the backend.

``state.url`` set (``redis://…``): the shared Redis store, reachable from every host. Unset: the
SQLite file under ``state_dir`` (one host, the embedded default). Either way the store is
checked now, so a wrong URL or an unusable directory fails at start, not at the first event.
"""

from __future__ import annotations

from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.redis import RedisStore
from leadgate.store.sqlite import open_store


async def open_redis_store(settings: Settings) -> RedisStore:
    """The Redis store of ``settings.state`` (its URL must be set), reachable now."""
    state = settings.state
    if state.url is None:
        raise ValueError("state.url is not set")
    store = RedisStore(
        state.url.get_secret_value(),
        namespace=state.namespace,
        anonymous_profile_idle_s=state.anonymous_profile_idle_s,
    )
    try:
        await store.ping()
    except BaseException:
        await store.close()
        raise
    return store


async def open_configured_store(settings: Settings) -> StateStore:
    """The state store ``settings`` name: Redis when ``state.url`` is set, else SQLite."""
    if settings.state.url is not None:
        return await open_redis_store(settings)
    return await open_store(settings.state_dir, settings.state.anonymous_profile_idle_s)
