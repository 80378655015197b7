"""Per-event traces: what each stage decided and every request sent to Outreach.

Traces travel on ``leadgate.traces`` keyed by messageId (one record per stage group: the
processor publishes one, the delivery worker one per attempt group), and the inspector folds
the records of one messageId into one view. Values here are already masked where they must
be (the vendor document is kept exactly, since it is what the user debugs; the inspector masks
PII on the way out unless revealing is configured).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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


class ExchangeRecorder:
    """Records the Outreach exchanges of one lead's delivery, each stamped with its attempt.

    The delivery loop (``leadgate send``) or worker creates one per delivery and sets ``attempt``
    before each try (1, 2, ...); the client and the batched lookups ``record`` every request they
    make, so the inspector shows which attempt each request belonged to.
    """

    __slots__ = ("_exchanges", "attempt")

    def __init__(self, attempt: int = 1) -> None:
        self.attempt = attempt
        self._exchanges: list[VendorExchange] = []

    def record(self, exchange: VendorExchange) -> None:
        """Keep one exchange, stamped with the current attempt number."""
        if exchange.attempt != self.attempt:
            exchange = replace(exchange, attempt=self.attempt)
        self._exchanges.append(exchange)

    @property
    def exchanges(self) -> tuple[VendorExchange, ...]:
        """Every exchange recorded so far, in order."""
        return tuple(self._exchanges)

    def __getitem__(self, index: int) -> VendorExchange:
        return self._exchanges[index]

    def __iter__(self) -> Iterator[VendorExchange]:
        return iter(tuple(self._exchanges))

    def __len__(self) -> int:
        return len(self._exchanges)
