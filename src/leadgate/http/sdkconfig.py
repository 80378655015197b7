"""The configuration endpoints that browser SDKs fetch before they send anything, so that a site
running Segment's or RudderStack's library switches to leadgate by changing one URL.

- Segment's analytics.js (``@segment/analytics-next``) loaded with ``cdnURL`` set to leadgate
  fetches ``GET {cdnURL}/v1/projects/{writeKey}/settings``. The answer has Segment's settings
  shape with only the ``Segment.io`` integration, pointed at this collector (``apiHost`` is
  ``<the host asked>/v1``, ``protocol`` the scheme asked), so the library posts to ``/v1/t``,
  ``/v1/i``, ``/v1/p``; no device-mode destinations, no remote plugins, metrics off.
- RudderStack's JavaScript SDK v3 (``@rudderstack/analytics-js``) loaded with ``configUrl`` set to
  leadgate fetches ``GET {configUrl}/sourceConfig/?writeKey=...`` (key also in an
  ``Authorization: Basic`` header, hence a preflight); the answer is a source with no
  destinations. It then posts to ``{dataPlaneUrl}/v1/<type>`` or ``/v1/batch``.

Both answer only for a configured write key (401 otherwise, the collector's constant body) and
only to browser origins the key allows (403 naming the origin and how to allow it).
"""

from __future__ import annotations

from aiohttp import web

from leadgate.http.cors import cors_headers, origin_allowed, refused_origin
from leadgate.http.rejection import RejectCode, Rejection
from leadgate.http.writekeys import Source, WriteKeyRing, key_from_headers
from leadgate.settings import CollectorSettings

SEGMENT_SETTINGS_PATH = "/v1/projects/{write_key}/settings"
RUDDER_CONFIG_PATHS = ("/sourceConfig/", "/sourceConfig")
_CONFIG_PREFLIGHT_HEADERS = "authorization, content-type"
_CACHE = "private, max-age=60"


def segment_settings(write_key: str, api_host: str, protocol: str) -> dict[str, object]:
    """analytics-next's settings document with one destination: leadgate's collector."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
                "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]},
            }
        },
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def rudder_source_config(write_key: str, source: Source) -> dict[str, object]:
    """RudderStack's source configuration: an enabled JavaScript source, no destinations."""
    return {
        "isHosted": False,
        "source": {
            "id": f"leadgate-{source.name}",
            "name": source.name,
            "writeKey": write_key,
            "enabled": True,
            "workspaceId": "leadgate",
            "config": {"statsCollection": {"errors": {"enabled": False}}},
            "destinations": [],
        },
    }


class SdkConfig:
    """The handlers, bound to the collector's write keys."""

    def __init__(self, settings: CollectorSettings) -> None:
        self._keys = WriteKeyRing(settings.write_keys)

    def routes(self) -> list[web.RouteDef]:
        """Segment's settings and RudderStack's source config (with its preflight)."""
        routes = [web.get(SEGMENT_SETTINGS_PATH, self.segment)]
        for path in RUDDER_CONFIG_PATHS:
            routes += [web.get(path, self.rudder), web.options(path, self.preflight)]
        return routes

    def _check(self, request: web.Request, key: str | None) -> Source:
        source = self._keys.lookup(key)
        if source is None:
            raise Rejection(RejectCode.UNAUTHORIZED)
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, source.origins, request):
            raise Rejection(RejectCode.ORIGIN_NOT_ALLOWED)
        return source

    @staticmethod
    def _answer(request: web.Request, body: object) -> web.Response:
        origin = request.headers.get("Origin")
        response = web.json_response(body)
        response.headers.update(cors_headers(origin, allowed=origin is not None))
        response.headers["Cache-Control"] = _CACHE
        return response

    @staticmethod
    def _refuse(request: web.Request, rejection: Rejection) -> web.Response:
        origin = request.headers.get("Origin")
        if rejection.code is RejectCode.ORIGIN_NOT_ALLOWED and origin is not None:
            return refused_origin(origin)
        response = rejection.to_response()
        response.headers.update(cors_headers(origin, allowed=False))
        return response

    async def segment(self, request: web.Request) -> web.Response:
        """``GET /v1/projects/{writeKey}/settings``."""
        key = request.match_info["write_key"]
        try:
            self._check(request, key)
        except Rejection as rejection:
            return self._refuse(request, rejection)
        body = segment_settings(key, f"{request.host}/v1", request.scheme)
        return self._answer(request, body)

    async def rudder(self, request: web.Request) -> web.Response:
        """``GET /sourceConfig/?writeKey=...`` (or the key in ``Authorization: Basic``)."""
        key = request.query.get("writeKey") or key_from_headers(request.headers)
        try:
            source = self._check(request, key)
        except Rejection as rejection:
            return self._refuse(request, rejection)
        assert key is not None
        return self._answer(request, rudder_source_config(key, source))

    async def preflight(self, request: web.Request) -> web.Response:
        """The preflight of the source-config GET (it carries ``Authorization``); granted to
        any origin some write key allows (the GET itself checks the key's own list)."""
        origin = request.headers.get("Origin")
        if origin is None or not origin_allowed(origin, self._keys.all_origins, request):
            return refused_origin(origin or "")
        response = web.Response(status=204)
        response.headers.update(cors_headers(origin, allowed=True))
        response.headers["Access-Control-Allow-Methods"] = "GET"
        response.headers["Access-Control-Allow-Headers"] = _CONFIG_PREFLIGHT_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        return response
