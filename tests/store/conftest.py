"""Store factories: every ``StateStore`` implementation runs the same contract suite.

To add a store, append a factory ``(tmp_path, clock) -> StateStore`` to ``STORE_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from leadgate.store.base import StateStore
from leadgate.store.memory import MemoryStore
from leadgate.store.sqlite import SqliteStore

StoreFactory = Callable[[Path, Callable[[], float]], StateStore]


def _memory(tmp_path: Path, clock: Callable[[], float]) -> StateStore:
    return MemoryStore(clock=clock)


def _sqlite(tmp_path: Path, clock: Callable[[], float]) -> StateStore:
    return SqliteStore(tmp_path / "state" / "state.sqlite3", clock=clock)


STORE_FACTORIES: dict[str, StoreFactory] = {"memory": _memory, "sqlite": _sqlite}


class FakeClock:
    """A settable wall clock (epoch seconds) so TTL tests never sleep."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock shared by the store under test."""
    return FakeClock()


@pytest_asyncio.fixture(params=sorted(STORE_FACTORIES))
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StateStore]:
    """One fresh store per implementation in ``STORE_FACTORIES``."""
    made = STORE_FACTORIES[request.param](tmp_path, clock)
    yield made
    await made.close()
