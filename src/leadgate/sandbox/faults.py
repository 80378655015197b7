"""Fault injection for tests and demos: forced statuses (N times or for a while), 429 storms,
added latency, dropped connections. ``POST /__sandbox/faults`` takes one JSON object; each key
adds one kind of fault:

``{"status": 503, "count": 5, "path_prefix": "/api/v2/prospects", "method": "POST"}``
    the next 5 matching requests get a 503 (``path_prefix`` defaults to ``/api/``);
``{"status": 503, "duration_s": 30, "retry_after": 10}``
    an outage: every matching request gets a 503 for 30 s (``Retry-After`` when given);
``{"storm_429": {"count": 20, "retry_after": 2}}``
    the next 20 requests get 429 ``rateLimitExceeded`` with ``Retry-After: 2`` and
    ``X-RateLimit-Remaining: 0`` until the storm's reset (``duration_s`` instead of ``count`` too);
``{"latency_ms": 50}``    every API request waits 50 ms first (0 removes it);
``{"reset_connections": 3}``    the next 3 requests lose their connection without an answer;
``{"lose_responses": 1, "path_prefix": "/api/v2/sequenceStates", "method": "POST"}``
    the next matching request is *carried out*, then its connection drops before the answer
    (the client cannot know whether it happened: a timeout after the write, a crash);
``{"expire_tokens": true}``    every access token is expired now;
``{"webhooks": {"drop_share": 0.05, "delay_share": 0.5, "delay_ms": 2000}}``
    webhook deliveries: 5% are lost (never sent), half of the rest wait 2 s first;
``{"clear": true}``    removes every fault.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_PREFIX = "/api/"


class FaultSpecError(ValueError):
    """The fault spec cannot be understood."""


@dataclass(slots=True)
class Rule:
    """One injected behaviour for requests whose path starts with ``path_prefix``."""

    kind: str  # "status" | "reset" | "lose" (carry the request out, then drop the answer)
    status: int = 0
    count: int | None = None
    until: float | None = None
    path_prefix: str = DEFAULT_PREFIX
    method: str | None = None
    retry_after: float | None = None
    storm: bool = False

    def matches(self, method: str, path: str, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.count is not None and self.count <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return path.startswith(self.path_prefix)

    def live(self, now: float) -> bool:
        return not (
            (self.until is not None and now >= self.until)
            or (self.count is not None and self.count <= 0)
        )


@dataclass(slots=True)
class WebhookFaults:
    """What happens to outgoing webhook deliveries: a share lost, a share held back."""

    drop_share: float = 0.0
    delay_share: float = 1.0
    delay_ms: int = 0


@dataclass(slots=True)
class FaultPlan:
    """The faults in force."""

    latency_ms: int = 0
    rules: list[Rule] = field(default_factory=list)
    webhooks: WebhookFaults = field(default_factory=WebhookFaults)

    def clear(self) -> None:
        self.latency_ms = 0
        self.rules.clear()
        self.webhooks = WebhookFaults()

    def take(self, method: str, path: str) -> Rule | None:
        """The first rule that applies to this request, consuming one of its count."""
        now = time.time()
        self.rules = [rule for rule in self.rules if rule.live(now)]
        for rule in self.rules:
            if rule.matches(method, path, now):
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    def describe(self) -> dict[str, Any]:
        """The faults in force, for the admin endpoint."""
        now = time.time()
        return {
            "latency_ms": self.latency_ms,
            "rules": [asdict(rule) for rule in self.rules if rule.live(now)],
            "webhooks": asdict(self.webhooks),
        }

    def apply(self, spec: dict[str, Any]) -> bool:
        """Add the faults of a spec; True when it asks to expire the tokens (the caller's job)."""
        unknown = set(spec) - {
            "status",
            "count",
            "duration_s",
            "path_prefix",
            "method",
            "retry_after",
            "storm_429",
            "latency_ms",
            "reset_connections",
            "lose_responses",
            "expire_tokens",
            "webhooks",
            "clear",
        }
        if unknown:
            raise FaultSpecError(f"unknown fault keys: {sorted(unknown)}")
        if spec.get("clear"):
            self.clear()
        if "latency_ms" in spec:
            self.latency_ms = _number(spec, "latency_ms", int)
        if "webhooks" in spec:
            self.webhooks = _webhook_faults(spec["webhooks"])
        prefix = str(spec.get("path_prefix", DEFAULT_PREFIX))
        method = str(spec["method"]).upper() if spec.get("method") else None
        if "status" in spec:
            self.rules.append(
                self._timed(
                    spec,
                    Rule(
                        "status",
                        _status(spec),
                        path_prefix=prefix,
                        method=method,
                        retry_after=_opt(spec, "retry_after"),
                    ),
                )
            )
        if "storm_429" in spec:
            storm = spec["storm_429"]
            if not isinstance(storm, dict):
                raise FaultSpecError("storm_429 must be an object")
            retry_after = float(storm.get("retry_after", 1))
            rule = Rule(
                "status",
                429,
                path_prefix=str(storm.get("path_prefix", prefix)),
                retry_after=retry_after,
                storm=True,
            )
            self.rules.append(self._timed(storm, rule))
        if "reset_connections" in spec:
            count = _number(spec, "reset_connections", int)
            self.rules.append(Rule("reset", count=count, path_prefix=prefix, method=method))
        if "lose_responses" in spec:
            count = _number(spec, "lose_responses", int)
            self.rules.append(Rule("lose", count=count, path_prefix=prefix, method=method))
        return bool(spec.get("expire_tokens"))

    @staticmethod
    def _timed(spec: dict[str, Any], rule: Rule) -> Rule:
        """A rule lasts ``count`` requests or ``duration_s`` seconds (once when neither is set)."""
        if "duration_s" in spec:
            rule.until = time.time() + float(spec["duration_s"])
            if "count" in spec:
                rule.count = _number(spec, "count", int)
        else:
            rule.count = _number(spec, "count", int) if "count" in spec else 1
        return rule


def _webhook_faults(spec: Any) -> WebhookFaults:
    if not isinstance(spec, dict) or set(spec) - {"drop_share", "delay_share", "delay_ms"}:
        raise FaultSpecError("webhooks takes an object of drop_share, delay_share, delay_ms")
    try:
        faults = WebhookFaults(
            float(spec.get("drop_share", 0.0)),
            float(spec.get("delay_share", 1.0)),
            int(spec.get("delay_ms", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise FaultSpecError("webhooks values must be numbers") from exc
    if not (0 <= faults.drop_share <= 1 and 0 <= faults.delay_share <= 1 and faults.delay_ms >= 0):
        raise FaultSpecError("webhooks shares must be within 0..1 and delay_ms not negative")
    return faults


def _number(spec: dict[str, Any], key: str, kind: type[int]) -> int:
    try:
        value = kind(spec[key])
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"{key} must be a number") from exc
    if value < 0:
        raise FaultSpecError(f"{key} must not be negative")
    return value


def _status(spec: dict[str, Any]) -> int:
    status = _number(spec, "status", int)
    if not 400 <= status <= 599:
        raise FaultSpecError("status must be an HTTP error status (400-599)")
    return status


def _opt(spec: dict[str, Any], key: str) -> float | None:
    return float(spec[key]) if key in spec else None
