"""CRM: a people import through ``leadgate send`` (issue 14's measures).

The sandbox runs as its own process with its budget lifted, and so does the client's budget.
First one person per company is sent (not counted), so every company's account and the owner
(alice) are known; then ``count`` new people of those companies go through ``send()`` with
presets/crm-sync.yaml, as ``leadgate send --source workbooks people.jsonl`` would:

- ``crm_records_per_s``: people per second through ``send`` (one record at a time, in order);
- ``crm_requests_per_person``: Outreach requests per new person (goal <= 2: a lookup and a
  create; the owner and the account come from the caches);
- ``crm_unchanged_requests``: requests per person when the same file is sent again (goal 0);
- ``crm_outcome_p99_ms``: from a delivery result to its outcome acknowledged on
  ``leadgate.outcomes`` (the publish the delivery reporter awaits), over ``samples`` outcomes.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.rig import REPO, bench_settings, create_topics, embedded_broker, sandbox_process
from leadgate.commands.send import send
from leadgate.domain.opportunity import SourceRef
from leadgate.pipeline.presets import load_preset
from leadgate.runtime.services import started_producer
from leadgate.settings import PipelineSettings
from leadgate.workers.outcomes import OutcomePublisher

CRM = REPO / "presets" / "crm-sync.yaml"
COMPANIES = 50


def person(n: int) -> bytes:
    """CRM person ``n`` (source workbooks), flagged for sync, assigned to alice."""
    event: dict[str, Any] = {
        "type": "identify",
        "messageId": f"crm-bench-{n}",
        "userId": f"P-{n}",
        "traits": {
            "email": f"person{n}@company{n % COMPANIES}.io",
            "firstName": "Pat",
            "lastName": f"Person{n}",
            "title": "Buyer",
            "syncToOutreach": True,
            "assignedTo": "alice",
        },
        "context": {"leadgate": {"source": "workbooks"}},
    }
    return orjson.dumps(event)


async def run(count: int = 10_000, samples: int = 2_000) -> dict[str, Any]:
    """Measure; returns the figures (see the module docstring)."""
    preset = load_preset(CRM)
    with tempfile.TemporaryDirectory() as tmp:
        async with embedded_broker() as broker, sandbox_process() as sandbox:
            settings = bench_settings(
                broker.bootstrap, Path(tmp) / "state", sandbox_url=sandbox.url,
                budget_per_hour=10_000_000,
            ).model_copy(update={"pipeline": PipelineSettings(presets=(CRM,))})  # fmt: skip
            out = io.StringIO()
            await send(settings, preset, [person(n) for n in range(COMPANIES)], as_json=True,
                       out=out)  # fmt: skip
            before = len(await sandbox.api_requests())
            lines = [person(COMPANIES + n) for n in range(count)]
            started = time.perf_counter()
            status = await send(settings, preset, lines, as_json=True, out=out)
            elapsed = time.perf_counter() - started
            new = len(await sandbox.api_requests()) - before
            await send(settings, preset, lines, as_json=True, out=out)
            unchanged = len(await sandbox.api_requests()) - before - new
            await create_topics(settings)
            latencies: list[float] = []
            async with started_producer(settings) as producer:
                publisher = OutcomePublisher(producer, settings)
                source = SourceRef(system="workbooks", kind="person", id="P-1")
                for n in range(samples):
                    outcome = publisher.build(source, f"m{n}", status="ok", action="created",
                                              record_type="prospect", record_id=n + 1)  # fmt: skip
                    t0 = time.perf_counter()
                    await publisher.publish([outcome])
                    latencies.append(time.perf_counter() - t0)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return {
        "crm_records_per_s": round(count / elapsed, 1),
        "crm_requests_per_person": round(new / count, 3),
        "crm_unchanged_requests": round(unchanged / count, 3),
        "crm_outcome_p99_ms": round(p99, 2),
        "crm_send_exit_status": status,
        "crm_people": count,
    }
