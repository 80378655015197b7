"""Who may read the inspector: the holder of the inspector token (docs/reliability.md D1).

The token comes as ``Authorization: Bearer <token>`` (scripts, curl) or as the session cookie
the page's login form sets. The cookie carries an HMAC derived from the token, not the token:
it is HttpOnly, SameSite=Strict and scoped to ``/inspector``. The collector's write keys are
never accepted (they are public in browsers); ``setup_inspector`` refuses a token equal to one.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from leadgate.settings import Settings

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def security_headers() -> dict[str, str]:
    """Headers every inspector response carries."""
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


class InspectorAuth:
    """Checks requests against the configured inspector token."""

    COOKIE = "leadgate_inspector"

    def __init__(self, settings: Settings) -> None:
        secret = settings.inspector.token
        self._token = secret.get_secret_value().encode() if secret is not None else None

    @property
    def configured(self) -> bool:
        """Whether a token is configured at all (without one, the API stays closed)."""
        return self._token is not None

    def _session(self) -> str:
        assert self._token is not None
        return hmac.new(self._token, b"leadgate-inspector-session", hashlib.sha256).hexdigest()

    def check_token(self, token: str) -> bool:
        """Whether ``token`` is the inspector token (constant time)."""
        return self._token is not None and hmac.compare_digest(token.encode(), self._token)

    def allowed(self, request: web.Request) -> bool:
        """Whether the request carries the token or a valid session cookie."""
        if self._token is None:
            return False
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and self.check_token(credential.strip()):
            return True
        cookie = request.cookies.get(self.COOKIE)
        return cookie is not None and hmac.compare_digest(cookie, self._session())

    def why_not(self) -> str:
        """The 401 message."""
        if self._token is None:
            return "the inspector is closed: no inspector token is configured"
        return "send the inspector token: Authorization: Bearer <token>"

    def set_cookie(self, response: web.StreamResponse, *, secure: bool) -> None:
        """Set the session cookie on a successful login."""
        response.set_cookie(
            self.COOKIE,
            self._session(),
            path="/inspector",
            httponly=True,
            samesite="Strict",
            secure=secure,
            max_age=12 * 3600,
        )
