"""A local Outreach: OAuth, JSON:API prospects/accounts/users, rate limits and fault injection,
faithful to docs/outreach-api.md, for development, tests and benchmarks."""

from __future__ import annotations

from leadgate.sandbox.app import build_sandbox_app
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.server import run_sandbox

__all__ = ["SandboxConfig", "build_sandbox_app", "run_sandbox"]
