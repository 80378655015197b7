"""The sandbox application: OAuth, the JSON:API endpoints and the admin endpoints behind one
middleware (``gate``) that applies faults, auth, budget and media type and logs every request.
"""

from __future__ import annotations

from aiohttp import web

from leadgate.sandbox import admin, compliance, oauth, routes, sequence_actions, sequence_states
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.gate import gate
from leadgate.sandbox.state import SANDBOX, SandboxState


def build_sandbox_app(config: SandboxConfig | None = None) -> web.Application:
    """A fresh sandbox (its own data and tokens) as an aiohttp application."""
    app = web.Application(middlewares=[gate])
    state = SandboxState(config or SandboxConfig())
    app[SANDBOX] = state

    async def _stop_deliveries(_: web.Application) -> None:
        await state.webhooks.close()

    app.on_cleanup.append(_stop_deliveries)
    oauth.add_routes(app)
    compliance.add_routes(app)  # before the generic /api/v2/{plural} routes
    sequence_actions.add_routes(app)
    sequence_states.add_routes(app)
    routes.add_routes(app)
    admin.add_routes(app)
    return app
