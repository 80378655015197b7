"""``POST /privacy/forget``: forget one person over HTTP (an operator's tool or a DSR platform).

Authenticated with its own bearer token, ``privacy.admin_token`` (never a write key, never the
inspector token; without one configured every request is a 401). The body names the person::

    {"email": "jane@acme.com"} | {"userId": "u-1"} | {"anonymousId": "a-1"}   (any combination)
    + optional "outreach": true   (also file an Outreach compliance request, Delete)

Answers (JSON, identifiers only as salted hashes):

- 200 ``{"finished": true, ...}``: erased and suppressed (and, with ``outreach``, Outreach's
  compliance request is ``done``);
- 202 ``{"finished": false, ...}``: leadgate's copies are erased and suppressed, the compliance
  request is filed but not done yet; send the same request again later to follow it;
- 400 for a body that names nobody (or an unusable address), 401 without the token;
- 503 when Kafka or Outreach failed mid-way: the job is kept, the same request resumes it.

The work is done by a ``Forget`` the composition root passes in (``runtime.http``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError

from leadgate.errors import LeadgateError
from leadgate.observability.logging import get_logger
from leadgate.pipeline.email import InvalidEmail, normalize_email
from leadgate.pipeline.privacy import email_identifier
from leadgate.settings import Settings

PATH = "/privacy/forget"
MAX_BODY_BYTES = 4096
MAX_ID_CHARS = 200

# (identifiers, with outreach) -> the job's report as JSON (``ForgetReport.json``)
Forget = Callable[[list[str], bool], Awaitable[dict[str, Any]]]

log = get_logger(__name__)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


class BadRequest(ValueError):
    """The body does not name a person usably (the message says why, without the value)."""


def identifiers(body: object) -> tuple[list[str], bool]:
    """The identifiers and the ``outreach`` flag a request body names; raises ``BadRequest``."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = set(body) - {"email", "userId", "anonymousId", "outreach"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    found: list[str] = []
    email = body.get("email")
    if email is not None:
        if not isinstance(email, str):
            raise BadRequest("email must be text")
        try:
            found.append(email_identifier(normalize_email(email)))
        except InvalidEmail as exc:
            raise BadRequest(f"email: {exc}") from None
    for field, prefix in (("userId", "user"), ("anonymousId", "anon")):
        value = body.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
            raise BadRequest(f"{field} must be text of 1 to {MAX_ID_CHARS} characters")
        found.append(f"{prefix}:{value}")
    if not found:
        raise BadRequest("name the person: email, userId or anonymousId")
    outreach = body.get("outreach", False)
    if not isinstance(outreach, bool):
        raise BadRequest("outreach must be true or false")
    return found, outreach


class PrivacyEndpoint:
    """The forget endpoint over one ``Forget``."""

    def __init__(self, settings: Settings, forget: Forget) -> None:
        token = settings.privacy.admin_token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._forget = forget

    def routes(self) -> list[web.RouteDef]:
        """The route table entry."""
        return [web.post(PATH, self.handle)]

    def _allowed(self, request: web.Request) -> bool:
        if self._token is None:
            return False
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self._token
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Forget the person the body names; see the module docstring for the answers."""
        if not self._allowed(request):
            why = (
                "closed: no privacy.admin_token is configured"
                if self._token is None
                else ("send the privacy admin token: Authorization: Bearer <token>")
            )
            return _json(401, {"error": "unauthorized", "detail": why})
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return _json(413, {"error": "payload_too_large"})
        try:
            targets, outreach = identifiers(orjson.loads(raw) if raw else None)
        except orjson.JSONDecodeError:
            return _json(400, {"error": "bad_request", "detail": "the body is not JSON"})
        except BadRequest as exc:
            return _json(400, {"error": "bad_request", "detail": str(exc)})
        try:
            report = await self._forget(targets, outreach)
        except (KafkaError, OSError, LeadgateError) as exc:
            log.warning("privacy.forget.interrupted", error=type(exc).__name__)
            return _json(
                503,
                {
                    "error": "interrupted",
                    "detail": f"{type(exc).__name__}; send the same request again to resume",
                },
            )
        log.info(
            "privacy.forget",
            identifiers=len(report.get("hashes", [])),
            outreach=outreach,
            finished=bool(report.get("finished")),
        )
        return _json(200 if report.get("finished") else 202, report)
