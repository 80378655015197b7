"""Store factories: every ``StateStore`` implementation runs the same contract suite.

To add a store, append a factory ``(tmp_path, clock, request) -> StateStore`` to
``STORE_FACTORIES``. The Redis store runs on the session's real ``redis-server``
(``tests/plugins/redis.py``) under a namespace of its own per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from leadgate.store.base import StateStore
from leadgate.store.memory import MemoryStore
from leadgate.store.redis import RedisStore
from leadgate.store.sqlite import SqliteStore
from tests.plugins.clock import FakeClock
from tests.plugins.redis import RedisServer

StoreFactory = Callable[[Path, Callable[[], float], pytest.FixtureRequest], StateStore]
# Anonymous profiles expire after this long without a change in the contract suite.
ANONYMOUS_IDLE_S = 3600.0


def _memory(tmp_path: Path, clock: Callable[[], float], _: pytest.FixtureRequest) -> StateStore:
    return MemoryStore(clock=clock, anonymous_profile_idle_s=ANONYMOUS_IDLE_S)


def _sqlite(tmp_path: Path, clock: Callable[[], float], _: pytest.FixtureRequest) -> StateStore:
    return SqliteStore(
        tmp_path / "state" / "state.sqlite3", clock=clock, anonymous_profile_idle_s=ANONYMOUS_IDLE_S
    )


def _redis(
    tmp_path: Path, clock: Callable[[], float], request: pytest.FixtureRequest
) -> StateStore:
    server: RedisServer = request.getfixturevalue("redis_server")
    namespace: str = request.getfixturevalue("redis_namespace")
    return RedisStore(
        server.url, namespace=namespace, clock=clock, anonymous_profile_idle_s=ANONYMOUS_IDLE_S
    )


STORE_FACTORIES: dict[str, StoreFactory] = {"memory": _memory, "sqlite": _sqlite, "redis": _redis}


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock shared by the store under test."""
    return FakeClock()


@pytest_asyncio.fixture(params=sorted(STORE_FACTORIES))
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StateStore]:
    """One fresh store per implementation in ``STORE_FACTORIES``."""
    made = STORE_FACTORIES[request.param](tmp_path, clock, request)
    yield made
    await made.close()
