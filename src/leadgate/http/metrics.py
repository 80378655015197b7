"""The ``/metrics`` route: the process's registry in the Prometheus text format."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadgate.observability.metrics import REGISTRY


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format."""
    body = generate_latest(REGISTRY)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def setup_metrics(app: web.Application) -> None:
    """Add ``GET /metrics`` to an app."""
    app.router.add_get("/metrics", metrics_handler)
