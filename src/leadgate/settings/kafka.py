"""How leadgate's Kafka clients find and use the broker: topics, groups, timeouts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from leadgate.settings.checks import STRICT, no_control_chars


class KafkaSettings(BaseModel):
    """Where the topics live and how leadgate's clients talk to the broker."""

    model_config = STRICT

    bootstrap_servers: str = "127.0.0.1:19092"
    # The embedded Tansu broker rejects InitProducerId, so idempotence is off by default; turn it
    # on against a real Kafka cluster (acks is always "all").
    enable_idempotence: bool = False
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    events_topic: str = "leadgate.events"
    delivery_topic: str = "leadgate.delivery.outreach"
    deadletter_topic: str = "leadgate.deadletter"
    traces_topic: str = "leadgate.traces"
    inbound_topic: str = "leadgate.inbound.outreach"
    changes_topic: str = "leadgate.outreach.changes"
    outcomes_topic: str = Field(
        default="leadgate.outcomes",
        description="one outcome per finished source record (CRM write-back), keyed by source id",
    )
    processor_group: str = "leadgate-processor"
    delivery_group: str = "leadgate-delivery-outreach"
    inbound_group: str = "leadgate-inbound-outreach"
    request_timeout_ms: int = Field(default=30_000, gt=0)
    max_poll_interval_ms: int = Field(default=300_000, gt=0)
    rebalance_timeout_ms: int = Field(default=60_000, gt=0)
    session_timeout_ms: int = Field(default=30_000, gt=0)
    max_poll_records: int = Field(default=500, gt=0)
    fetch_max_wait_ms: int = Field(
        default=10,
        gt=0,
        description=(
            "how long an idle worker's fetch may wait at the broker for data (while records "
            "flow the consume loop uses at most 10 ms: the embedded broker holds a fetch for its "
            "whole wait even when records arrive, up to this per hop, and a lead takes two)"
        ),
    )
    drain_timeout_s: float = Field(default=20.0, gt=0)
    errors_tolerance: Literal["all", "none"] = Field(
        default="all",
        description=(
            "a record batch a consumer cannot decode (CRC mismatch, unknown or missing codec, "
            "corrupt payload), like Kafka Connect's errors.tolerance: 'all' dead-letters its raw "
            "bytes and offsets and moves on; 'none' stops that partition at the batch (logged, "
            "/readyz 503, leadgate_partition_halted) without committing past it"
        ),
    )

    _check_servers = field_validator("bootstrap_servers")(no_control_chars)

    @model_validator(mode="after")
    def _drain_fits_rebalance(self) -> KafkaSettings:
        if self.drain_timeout_s * 1000 > self.rebalance_timeout_ms:
            raise ValueError("drain_timeout_s must fit inside rebalance_timeout_ms")
        return self
