"""Per-event traces: what each stage decided and every request sent to Outreach.

Traces travel on ``leadgate.traces`` keyed by messageId (one record per stage group: the
processor publishes one, the delivery worker one per attempt group), and the inspector folds
the records of one messageId into one view. Values here are already masked where they must
be (the vendor document is kept exactly, since it is what the user debugs; the inspector masks
PII on the way out unless revealing is configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.reasons import StageStatus


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage's verdict on one event."""

    stage: str
    status: StageStatus
    reason: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form (plain JSON types)."""
        return {
            "stage": self.stage,
            "status": str(self.status),
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class VendorExchange:
    """One HTTP request to Outreach and what came back."""

    method: str
    path: str
    status: int | None
    latency_ms: float
    attempt: int
    document: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    rate_limit: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form (plain JSON types)."""
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "attempt": self.attempt,
            "document": self.document,
            "response": self.response,
            "rate_limit": self.rate_limit,
            "error": self.error,
        }
