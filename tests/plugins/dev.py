"""``leadgate dev`` as a user runs it: a subprocess on free ports, ready once its banner is out,
stopped with Ctrl-C (SIGINT) when the test ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from leadgate.kafka.broker import free_port
from tests.plugins.streams import REPO

DEV_WRITE_KEY = "wk_dev_plugin_key"


@dataclass
class DevProcess:
    """A running ``leadgate dev``: collector, sandbox and broker addresses, and its output."""

    url: str
    sandbox: str
    bootstrap: str
    output: list[str] = field(default_factory=list)

    async def prospects(self) -> list[dict[str, Any]]:
        """The sandbox's prospects (its admin listing)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.sandbox}/__sandbox/prospects") as response,
        ):
            body = await response.json()
        return list(body["data"] if isinstance(body, dict) else body)


MakeDev = Callable[..., Awaitable[DevProcess]]


async def _drain(stream: asyncio.StreamReader, output: list[str]) -> None:
    while line := await stream.readline():
        output.append(line.decode())


@pytest.fixture
async def make_dev(tmp_path: Path) -> AsyncIterator[MakeDev]:
    """Factory: ``await make_dev(*flags)`` starts ``leadgate dev`` (write key
    ``DEV_WRITE_KEY``, 2 partitions) with extra ``flags`` and waits for its banner."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(*flags: str) -> DevProcess:
            http, broker, sandbox = free_port(), free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "leadgate.cli", "dev",
                "--http-port", str(http), "--broker-port", str(broker),
                "--sandbox-port", str(sandbox), "--state-dir", str(tmp_path / f"state-{http}"),
                "--partitions", "2", "--write-key", DEV_WRITE_KEY, *flags,
                cwd=str(REPO), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            dev = DevProcess(
                f"http://127.0.0.1:{http}", f"http://127.0.0.1:{sandbox}", f"127.0.0.1:{broker}"
            )

            async def stop() -> None:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                    await asyncio.wait_for(process.wait(), timeout=60)

            stack.push_async_callback(stop)
            assert process.stdout is not None
            while True:
                line = (await asyncio.wait_for(process.stdout.readline(), timeout=90)).decode()
                assert line, "leadgate dev exited before it was ready:\n" + "".join(dev.output)
                dev.output.append(line)
                if line.strip().startswith("state dir"):
                    break
            drain = asyncio.create_task(_drain(process.stdout, dev.output))
            stack.callback(drain.cancel)
            return dev

        yield make
