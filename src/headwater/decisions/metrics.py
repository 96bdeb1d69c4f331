"""Prometheus counters of the decision log (same registry as /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

DECISIONS_LOGGED = Counter(
    "headwater_decisions_logged_total",
    "OpenRTB enrichment decisions written to the decision log (after sampling)",
)
DECISIONS_DROPPED = Counter(
    "headwater_decisions_dropped_total",
    "Sampled decisions not written: the buffer was full, or the decision file could not be written",
)
