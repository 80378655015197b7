"""A real ``redis-server`` for the tests: one per session on a free loopback port, in a temp dir,
without persistence; each test gets its own database-free namespace by key prefix.

Never skipped: a missing ``redis-server`` fails the tests that need it, saying how to install
it (``scripts/system-deps.sh``, which ``make test`` runs, installs Debian's package).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_START_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class RedisServer:
    """A running redis-server: its ``url`` (``redis://127.0.0.1:<port>/0``) and its process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The server's URL for ``LEADGATE_STATE__URL``."""
        return f"redis://{self.host}:{self.port}/0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis_server(workdir: Path) -> RedisServer:
    """Start a redis-server on a free loopback port with ``workdir`` as its dir; fails loudly."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run `bash scripts/system-deps.sh` "
            "(or `sudo apt-get install -y redis-server`); the Redis tests never skip",
            pytrace=False,
        )
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    args = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (workdir / "redis.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"redis-server did not start on port {port}:\n{log}", pytrace=False)
        time.sleep(0.02)
    return RedisServer("127.0.0.1", port, process)


def stop_redis_server(server: RedisServer) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session."""
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        stop_redis_server(server)


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix unique to the calling test, so tests sharing the server never meet."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def make_redis_url(redis_server: RedisServer) -> Callable[[], str]:
    """Factory: the session server's URL (tests separate themselves by namespace)."""
    return lambda: redis_server.url
