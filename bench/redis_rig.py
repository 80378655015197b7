"""A real ``redis-server`` for the scale-out benchmarks: a free loopback port, a temp dir, no
persistence (the measures are about the store's work and size, not Redis's disk)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from leadgate.kafka.broker import free_port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A running redis-server; yields its URL. Fails loudly when Redis is not installed
    (``scripts/system-deps.sh`` installs Debian's package)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `bash scripts/system-deps.sh`")
    with tempfile.TemporaryDirectory(prefix="leadgate-bench-redis-") as workdir:
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
                "--save", "", "--appendonly", "no",
                # as docker-compose.yml runs it: profile hashes stay compact (listpack)
                "--hash-max-listpack-value", "1024"]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)
