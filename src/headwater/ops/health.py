"""/healthz (the process answers) and /readyz (the log can take events right now)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from headwater.log.writer import LogWriter


def readiness(log_dir: Path, writers: list[LogWriter], min_free_bytes: int) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    ok = True
    for w in writers:
        checks[f"{w.kind}_log"] = "ok" if w.healthy else w.last_error
        ok = ok and w.healthy
    draining = [w for w in writers if w.drain_marker is not None and w.drain_marker.exists()]
    if draining:  # the load balancer takes the host out (docs/scale-out.md, Leaving and joining)
        checks["cluster"] = (
            "draining: this host is leaving its cluster (`headwater cluster join` brings it back)"
        )
        ok = False
    writable = log_dir.is_dir() and os.access(log_dir, os.W_OK)
    checks["log_dir_writable"] = writable
    ok = ok and writable
    try:
        free = shutil.disk_usage(log_dir).free
    except OSError as exc:
        checks["disk"] = str(exc)
        return False, checks
    checks["disk_free_mb"] = free // (1 << 20)
    if free < min_free_bytes:
        checks["disk"] = f"below the {min_free_bytes // (1 << 20)} MB minimum"
        ok = False
    return ok, checks
