"""Observability: metrics registry, structured logs and masking; imports nothing above domain."""
