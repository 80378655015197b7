"""``/healthz`` (the process answers) and ``/readyz`` (it can accept events: Kafka reachable)."""

from __future__ import annotations

from aiohttp import web

from leadgate.http.sink import EventSink


def health_routes(sink: EventSink) -> list[web.RouteDef]:
    """The two probes; readiness asks the producer for a live broker connection."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        if await sink.ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "unavailable", "kafka": "unreachable"}, status=503)

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
