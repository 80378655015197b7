"""``/healthz`` (the process answers) and ``/readyz`` (it does its work: Kafka reachable and,
in a process that also runs workers, every worker consuming)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from leadgate.http.sink import EventSink

WorkersReady = Callable[[], bool]
# Lines naming what does not work (a worker that died, a partition stopped at a bad batch).
Problems = Callable[[], list[str]]


def health_routes(
    sink: EventSink, workers_ready: WorkersReady | None = None, problems: Problems | None = None
) -> list[web.RouteDef]:
    """The two probes; readiness asks the producer for a live broker connection, ``problems``
    whether any worker or background task died (or a partition stopped), and ``workers_ready``
    whether the workers have joined their consumer groups."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        if not await sink.ready():
            return web.json_response({"status": "unavailable", "kafka": "unreachable"}, status=503)
        found = problems() if problems is not None else []
        if found:
            return web.json_response({"status": "degraded", "problems": found}, status=503)
        if workers_ready is not None and not workers_ready():
            return web.json_response({"status": "starting", "workers": "joining"}, status=503)
        return web.json_response({"status": "ready"})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
