"""Data health for the dashboard: ingest counters, tailer lag, quarantine, log size, last ETL run.

Everything is read from what the server already has (Prometheus counters, the services' status,
the log folder, the ETL manifests), so asking costs a few file stats and small reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from headwater.config import Settings
from headwater.log.files import list_log_files
from headwater.ops.metrics import render_metrics

COUNT_LIMIT_BYTES = 64 << 20  # count quarantine lines up to this many bytes, estimate beyond
TAIL_BYTES = 16 << 10


def counter_totals() -> dict[str, float]:
    """Sum of every sample of each counter (all labels, and all workers under multiprocess)."""
    text, _ = render_metrics()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    return totals


def ingest_counters() -> dict[str, int]:
    totals = counter_totals()
    return {
        "accepted_total": int(totals.get("headwater_events_accepted_total", 0)),
        "rejected_total": int(totals.get("headwater_events_rejected_total", 0)),
    }


def tailer_health(statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("role", "state", "applied_events", "rejected_lines", "lag_events", "lag_seconds", "last_error")
    return [
        {"name": name.removeprefix("tailer_"), **{k: details.get(k) for k in keys}}
        for name, details in sorted(statuses.items())
        if name.startswith("tailer_") or "lag_events" in details
    ]


def count_lines(path: Path, budget: int) -> tuple[int, int]:
    """(lines counted, bytes read) reading at most ``budget`` bytes; erased lines (log/erase.py:
    a line starting with a space) are not counted."""
    lines = read = 0
    line_start = True  # the chunk starts a line
    with open(path, "rb") as fh:
        while read < budget:
            chunk = fh.read(min(1 << 20, budget - read))
            if not chunk:
                break
            erased = chunk.count(b"\n ") + (line_start and chunk[:1] == b" ")
            lines += chunk.count(b"\n") - erased
            line_start = chunk.endswith(b"\n")
            read += len(chunk)
    return lines, read


def last_record(path: Path) -> dict[str, Any] | None:
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - TAIL_BYTES))
        lines = fh.read().rstrip(b"\n ").rsplit(b"\n", 1)  # erased lines at the end left out
    try:
        record = json.loads(lines[-1])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def quarantine_health(log_dir: Path, today: datetime) -> dict[str, Any]:
    files = list_log_files(log_dir, "quarantine")
    total = today_lines = 0
    budget = COUNT_LIMIT_BYTES
    estimated = False
    for lf in reversed(files):  # newest first, so today's count is always exact
        size = lf.path.stat().st_size
        lines, read = count_lines(lf.path, budget)
        budget -= read
        if read < size:  # over budget: extrapolate from the bytes read
            estimated = True
            lines = int(lines * size / read) if read else 0
        total += lines
        if lf.day == today.date():
            today_lines += lines
    last = None
    if files:
        newest = max(files, key=lambda lf: (lf.day, lf.path.stat().st_mtime))
        if newest.path.stat().st_size:
            record = last_record(newest.path)
            if record is not None:
                last = {
                    "code": record.get("code"),
                    "reason": str(record.get("reason") or record.get("error") or "")[:300],
                    "received_at": record.get("receivedAt"),
                }
    return {"events_total": total, "events_today": today_lines, "estimated": estimated, "last": last}


def log_health(log_dir: Path, today: datetime) -> dict[str, Any]:
    files = list_log_files(log_dir, "events")
    sizes = [(lf, lf.path.stat().st_size) for lf in files]
    return {
        "files": len(files),
        "bytes": sum(size for _, size in sizes),
        "bytes_today": sum(size for lf, size in sizes if lf.day == today.date()),
    }


def etl_health(lake_dir: Path, scheduler: dict[str, Any] | None) -> dict[str, Any]:
    manifests = sorted((lake_dir / "_etl").glob("recv=*.json"), key=lambda p: p.stat().st_mtime)
    last: dict[str, Any] | None = None
    if manifests:
        try:
            data = json.loads(manifests[-1].read_text())
        except (OSError, ValueError):
            data = {}
        keys = ("received_day", "finished_at", "rows_in", "rows_out", "duplicates", "seconds")
        last = {k: data.get(k) for k in keys}
    out: dict[str, Any] = {"loaded_received_days": len(manifests), "last_load": last}
    if scheduler is not None:
        out["scheduler"] = {k: scheduler.get(k) for k in ("last_run", "last_error", "loaded_days")}
    return out


def data_health(settings: Settings, statuses: dict[str, dict[str, Any]]) -> dict[str, Any]:
    now = datetime.now(UTC)  # log files are named by UTC day
    return {
        "ingest": ingest_counters(),
        "tailers": tailer_health(statuses),
        "quarantine": quarantine_health(settings.log_dir, now),
        "log": log_health(settings.log_dir, now),
        "etl": etl_health(settings.data_dir / "lake", statuses.get("etl_scheduler")),
    }
