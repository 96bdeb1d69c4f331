"""Prometheus metrics of the enrich endpoint and of audience membership (same registry as /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ENRICH_OUTCOMES = Counter(
    "headwater_openrtb_enrich_total",
    "POST /openrtb2/enrich answers by outcome: enriched, a consent reason, or why not enriched",
    ["reason"],
)
ENRICH_SECONDS = Histogram(
    "headwater_openrtb_enrich_seconds",
    "Server time of POST /openrtb2/enrich, body read to response",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1),
)
NIGHTLY_DRIFT = Counter(
    "headwater_audience_drift_total",
    "Memberships the nightly recomputation corrected in the live store",
    ["audience", "kind"],
)
