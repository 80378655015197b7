"""How calls reach the SQLite state file: writes on one thread, small reads inline.

Every write, and every read too large to run inline, goes to one dedicated thread that owns the
writing connection, so the event loop never waits for the write lock (``BEGIN IMMEDIATE`` may
wait up to ``busy_timeout`` for another process) and concurrent tasks are serialised without
locks of ours.

A small read (a few keys: one point lookup or a handful) runs *inline*, on the calling event
loop's thread, over a second, read-only connection. Why: in WAL mode such a read takes tens of
microseconds and never waits for a writer, while a hop to the store's thread costs milliseconds
on a busy process — the query queues behind writes, then the thread waits for the GIL, then the
awaiting task waits for the loop to wake it (bench ``p5_hops``: a 0.1 ms query cost 2-7 ms p50,
30-100 ms p99, and a lead met about eight of them). A read sees every write that returned before
it started (WAL commits are visible to new reads at once), exactly as on the thread.

A read that finds the file busy anyway (another connection recovering the WAL) is not retried
inline: it goes to the thread, which waits for it. Reads larger than ``INLINE_MAX_KEYS`` stay on
the thread, where SQLite releases the GIL and the query overlaps the loop's own work. A call from
another thread than the one whose loop first read inline also goes to the thread (the inline
connection belongs to one thread).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
# Reads of at most this many keys run inline (a batch of a whole fetch goes to the thread).
INLINE_MAX_KEYS = 64

Opener = Callable[[sqlite3.Connection], None]


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds tokens and PII)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite does not run the busy handler for this switch, so when another
    process opens the same new file at the same moment it answers "database is locked" at
    once: retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteAccess:
    """The writing connection on its thread, and the inline reading connection."""

    def __init__(self, path: Path, prepare: Opener) -> None:
        self.path = path
        self._prepare = prepare
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadgate-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_thread: int | None = None
        self.closed = False
        # Submitted first, so it runs before any call on the single thread; a failure to open
        # is re-raised by every later call instead of surfacing as an AttributeError.
        self.opened: Future[None] = self._executor.submit(self._open)

    def _open(self) -> None:
        _create_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        self._prepare(conn)
        self._conn = conn

    def connection(self) -> sqlite3.Connection:
        """The writing connection (on the store's thread only)."""
        self.opened.result()
        assert self._conn is not None, "opened without a connection"
        return self._conn

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction (on the store's thread only)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def modify(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Run one statement per row in one transaction; the number of rows changed.

        Only plain values leave the thread: a cursor finalised by the garbage collector on the
        event loop's thread would race with this one (sqlite3 "API misuse").
        """
        return self.write(lambda conn: conn.executemany(sql, rows).rowcount)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the store's thread."""
        if self.closed:
            raise RuntimeError("the state store is closed")
        return await asyncio.wrap_future(self._executor.submit(fn))

    async def read(self, fn: Callable[[sqlite3.Connection], T], *, keys: int = 1) -> T:
        """Run the read-only ``fn``: inline when it asks for at most ``INLINE_MAX_KEYS`` keys
        and the inline connection is free to use here, else on the store's thread."""
        reader = self._inline_reader() if keys <= INLINE_MAX_KEYS else None
        if reader is not None:
            try:
                return fn(reader)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                # the file is busy (a recovery): the thread waits for it instead of the loop
        return await self.call(lambda: fn(self.connection()))

    def _inline_reader(self) -> sqlite3.Connection | None:
        """The read-only connection of this thread, opened on first use once the file is
        ready; None when the calling thread is not its owner or the file is not open yet."""
        if self.closed or not self.opened.done() or self.opened.exception() is not None:
            return None
        thread = threading.get_ident()
        if self._reader is None:
            if self._reader_thread is not None:
                return None
            self._reader_thread = thread
            reader = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
            # Never wait inline: a busy answer sends the read to the thread (see ``read``).
            reader.execute("PRAGMA busy_timeout = 0")
            self._reader = reader
        return self._reader if thread == self._reader_thread else None

    async def close(self) -> None:
        """Close both connections and stop the thread; later calls raise."""
        if self.closed:
            return
        self.closed = True
        if self._reader is not None and threading.get_ident() == self._reader_thread:
            self._reader.close()
        self._reader = None

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.wrap_future(self._executor.submit(shut))
        self._executor.shutdown(wait=False)
