"""Prometheus metrics. With several workers, PROMETHEUS_MULTIPROC_DIR is set by the supervisor
before the workers start, and /metrics aggregates every worker's files."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

EVENTS_ACCEPTED = Counter("headwater_events_accepted_total", "Events written to the event log", ["source"])
EVENTS_REJECTED = Counter(
    "headwater_events_rejected_total",
    "Events refused: written to quarantine, or (code rate_limited) not stored",
    ["source", "code"],
)
EVENTS_SUPPRESSED = Counter(
    "headwater_events_suppressed_total", "Events of suppressed people: answered, not stored", ["source"]
)
REQUESTS = Counter("headwater_requests_total", "Collection requests by route and status", ["route", "status"])
REQUEST_SECONDS = Histogram(
    "headwater_request_duration_seconds",
    "Collection request latency, body read to response",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LOG_BYTES = Counter("headwater_log_bytes_total", "Bytes appended to the log", ["kind"])
LOG_FSYNC_SECONDS = Histogram(
    "headwater_log_fsync_seconds",
    "Time of one group-commit write + fsync",
    ["kind"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
)
LOG_BATCH_REQUESTS = Histogram(
    "headwater_log_group_commit_size",
    "Requests acknowledged by one group commit",
    ["kind"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
LOG_WRITE_ERRORS = Counter("headwater_log_write_errors_total", "Failed log writes (503 answered)", ["kind"])
LOG_WRITABLE = Gauge(
    "headwater_log_writable", "1 when the last log write succeeded", ["kind"], multiprocess_mode="livemin"
)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
