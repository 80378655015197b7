"""P5 per hop: where a lead's milliseconds go between its produce call and the sandbox.

Runs ``bench.p5_latency``'s workload once with probes wrapped around the hops (class-level
wrappers installed for the run and removed after it; production code is unchanged):

- ``P.fetch``: the processor's consume loop receives the event (``getmany`` returned it);
- ``P.start``: the processor's handler starts on the batch holding it;
- ``P.send``: the processor hands the lead intent to the producer (delivery topic);
- ``P.acked``: the broker acknowledged that intent;
- ``D.fetch``: the delivery consume loop receives the intent;
- ``D.start``: the delivery handler starts on the batch holding it;
- ``D.lane``: the intent's lane starts delivering it;
- ``D.dispatch``: the dispatcher is called (suppression and consent checked);
- ``D.http``: the Outreach client sends its first request for it (after its store look-ups and
  the rate budget);
- ``arrive``: the sandbox logs that request.

Each line is the p50/p99/max of the time from one probe to the next, in milliseconds. Also:
the event loop's lag, the batches each handler ran (size and wall time), and every state-store
call that went to the SQLite store's thread (``queued``: waiting for the store's thread; ``ran``:
the query; ``woke``: from its end until the awaiting task ran again) and every read (inline on
the event loop when small, ``store/sqlite_access.py``) with where it was called from.
Run: ``PYTHONPATH=src:. python -m bench.p5_hops [seconds] [window|-] [rate]``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from aiokafka import AIOKafkaProducer

from bench import p5_latency
from bench.rig import production_logging
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import Dispatcher
from leadgate.store.sqlite_access import SqliteAccess
from leadgate.workers.consumer import ConsumeLoop
from leadgate.workers.delivery import DeliveryWorker
from leadgate.workers.lanes import Item
from leadgate.workers.processor import Processor

ORDER = (
    "sent", "P.fetch", "P.start", "P.send", "P.acked", "D.fetch", "D.start", "D.lane",
    "D.dispatch", "D.http", "arrive",
)  # fmt: skip
ASIDE = (("P.send", "D.fetch"), ("sent", "arrive"))
_TRACKED = re.compile(rb"latency\.[0-9]+@")


def _tag(data: bytes | None) -> str | None:
    """The tracked lead's tag (``latency.N@``) in ``data``, if any."""
    found = _TRACKED.search(data) if data else None
    return found.group().decode() if found else None


class Probes:
    """Time stamps per tracked lead and hop (first wins), and durations per kind of work."""

    def __init__(self) -> None:
        self.stamps: dict[str, dict[str, float]] = {}
        self.durations: dict[str, list[tuple[float, int]]] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def stamp(self, tag: str | None, hop: str) -> None:
        if tag is not None:
            self.stamps.setdefault(tag, {}).setdefault(hop, time.time())

    def took(self, kind: str, seconds: float, size: int = 1) -> None:
        self.durations.setdefault(kind, []).append((seconds, size))

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    # -- the wrappers ----------------------------------------------------------------------------

    def accept(self, original: Any) -> Any:
        def wrapper(loop: Any, tp: Any, records: list[Any]) -> None:
            hop = "D.fetch" if tp.topic.endswith(".delivery") else "P.fetch"
            for r in records:
                self.stamp(_tag(r.key if hop == "D.fetch" else r.value), hop)
            original(loop, tp, records)

        return wrapper

    def handle(self, start: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            async def wrapper(worker: Any, tp: Any, records: list[Any]) -> Any:
                for r in records:
                    self.stamp(_tag(r.value), start)
                began = time.perf_counter()
                result = await original(worker, tp, records)
                self.took(f"{start} batch", time.perf_counter() - began, len(records))
                return result

            return wrapper

        return make

    def send(self, original: Any) -> Any:
        async def wrapper(producer: Any, topic: str, *args: Any, **kw: Any) -> Any:
            key = kw.get("key", args[1] if len(args) > 1 else None)
            tag = _tag(key) if topic.endswith(".delivery") else None
            self.stamp(tag, "P.send")
            future = await original(producer, topic, *args, **kw)
            if tag is not None:
                future.add_done_callback(lambda _: self.stamp(tag, "P.acked"))
            return future

        return wrapper

    def lane(self, original: Any) -> Any:
        async def wrapper(worker: Any, items: list[Item]) -> None:
            for item in items:
                self.stamp(_tag(item.intent.email.encode()), "D.lane")
            await original(worker, items)

        return wrapper

    def deliver(self, original: Any) -> Any:
        async def wrapper(dispatcher: Any, intent: Any, exchanges: Any) -> Any:
            self.stamp(_tag(intent.email.encode()), "D.dispatch")
            return await original(dispatcher, intent, exchanges)

        return wrapper

    def exchange(self, original: Any) -> Any:
        async def wrapper(client: Any, method: str, url: Any, *args: Any) -> Any:
            self.stamp(_tag(unquote(str(url)).encode()), "D.http")
            if len(args) > 1 and args[1] is not None:
                self.stamp(_tag(repr(args[1]).encode()), "D.http")
            return await original(client, method, url, *args)

        return wrapper

    def call(self, original: Any) -> Any:
        async def wrapper(access: Any, fn: Callable[[], Any]) -> Any:
            caller = sys._getframe(1)
            outer = caller.f_back.f_code.co_qualname if caller.f_back else "?"
            self.took(f"store call {caller.f_code.co_name} < {outer}", 0.0)
            submitted = time.perf_counter()
            times: list[float] = []

            def timed() -> Any:
                times.append(time.perf_counter())
                try:
                    return fn()
                finally:
                    times.append(time.perf_counter())

            result = await original(access, timed)
            if len(times) == 2:
                self.took("store queued", times[0] - submitted)
                self.took("store ran", times[1] - times[0])
                self.took("store woke", time.perf_counter() - times[1])
            return result

        return wrapper

    def read(self, original: Any) -> Any:
        async def wrapper(access: Any, fn: Callable[[Any], Any], *, keys: int = 1) -> Any:
            caller = sys._getframe(1)
            outer = caller.f_back.f_code.co_qualname if caller.f_back else "?"
            began = time.perf_counter()
            result = await original(access, fn, keys=keys)
            self.took(f"store read {caller.f_code.co_name} < {outer}", 0.0)
            self.took("store reads, each", time.perf_counter() - began)
            return result

        return wrapper


@contextmanager
def _installed(probes: Probes) -> Iterator[None]:
    probes.wrap(SqliteAccess, "call", probes.call)
    probes.wrap(SqliteAccess, "read", probes.read)
    probes.wrap(ConsumeLoop, "_accept", probes.accept)
    probes.wrap(Processor, "handle", probes.handle("P.start"))
    probes.wrap(DeliveryWorker, "handle", probes.handle("D.start"))
    probes.wrap(AIOKafkaProducer, "send", probes.send)
    probes.wrap(DeliveryWorker, "_deliver_lane", probes.lane)
    probes.wrap(Dispatcher, "deliver", probes.deliver)
    probes.wrap(OutreachClient, "_exchange", probes.exchange)
    try:
        yield
    finally:
        probes.restore()


def _quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
    return f"p50 {statistics.median(values):7.1f}  p99 {p99:7.1f}  max {max(values):7.1f}"


async def _lag(lags: list[float]) -> None:
    """How late a 5 ms sleep wakes: the event loop's lag."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.perf_counter() - before - 0.005) * 1000)


async def hops(seconds: float = 5.0, window: float | None = None, rate: int = 500) -> list[str]:
    """Run P5 once with probes; one line per hop, then the batches and store calls."""
    probes = Probes()
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    original_arrivals, original_tracked = p5_latency._arrivals, p5_latency._tracked_lead

    def tracked(n: int, sent_at: float) -> tuple[str, dict[str, Any]]:
        email, event = original_tracked(n, sent_at)
        sent[email] = sent_at
        return email, event

    def arrivals(log: list[dict[str, Any]]) -> dict[str, float]:
        found = original_arrivals(log)
        arrived.update(found)
        return found

    lags: list[float] = []
    watcher = asyncio.create_task(_lag(lags))
    p5_latency._tracked_lead = tracked
    p5_latency._arrivals = arrivals
    try:
        with _installed(probes):
            figures = await p5_latency.run(seconds=seconds, rate=rate, windows=(window,))
    finally:
        watcher.cancel()
        p5_latency._tracked_lead = original_tracked
        p5_latency._arrivals = original_arrivals
    lines = [f"{figures}", f"event loop lag ms: {_quantiles(lags)}"]
    for before, after in (*itertools.pairwise(ORDER), *ASIDE):
        gaps = []
        for email, at in sent.items():
            seen = {"sent": at, **probes.stamps.get(_tag(email.encode()) or "", {})}
            if email in arrived:
                seen["arrive"] = arrived[email]
            if before in seen and after in seen:
                gaps.append((seen[after] - seen[before]) * 1000)
        lines.append(f"{before:>10} -> {after:<10} {_quantiles(gaps)}  (n={len(gaps)})")
    for kind, runs in sorted(probes.durations.items()):
        if kind.startswith(("store call", "store read ")):
            lines.append(f"{kind}: {len(runs)}")
            continue
        sizes = [float(n) for _, n in runs]
        times = [t * 1000 for t, _ in runs]
        lines.append(f"{kind}: {len(runs)}; size {_quantiles(sizes)}; ms {_quantiles(times)}")
    return lines


if __name__ == "__main__":
    production_logging("info")
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    win = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    print("\n".join(asyncio.run(hops(secs, win, rate))))
