"""Hosts joining and leaving a cluster (docs/scale-out.md): each host renews its presence (the lease
``host/<writer>``, with what it says of itself) at every turn; ``drain`` stops collection on the
host (its log writers answer 503 ``draining`` and /readyz says not ready, so the load balancer
takes it out), ships every file including today's, and releases its leases; ``join`` undoes it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.cluster.jobs import HOST_PREFIX
from headwater.config import Settings
from headwater.log.files import list_log_files
from headwater.log.writer import DRAIN_CHECK_SECONDS
from headwater.shipping.manifest import KINDS, cached_entries
from headwater.shipping.rules import closes_at, is_closed
from headwater.stores.sql.leases import LeaseStore

#: a host that has not taken a turn for this long is shown as gone (three turns)
HOST_TTL_SECONDS = 900.0


def host_holder(settings: Settings) -> str:
    return f"{settings.cluster_host}@{os.uname().nodename}"


def drain_marker(settings: Settings) -> Path:
    return settings.run_dir / "draining"


def is_draining(settings: Settings) -> bool:
    return drain_marker(settings).exists()


def shipping_lag(settings: Settings, now: datetime) -> dict[str, Any]:
    """From the local copy of the manifest (no store call): closed files not shipped as they are,
    and how long the oldest of them has been closed."""
    entries = cached_entries(settings)
    waiting, oldest = 0, None
    for kind in KINDS:
        for lf in list_log_files(settings.log_dir, kind):
            entry = entries.get(lf.name)
            try:
                st = lf.path.stat()
            except FileNotFoundError:
                continue
            shipped = entry is not None and (entry.size, entry.mtime_ns) == (st.st_size, st.st_mtime_ns)
            if is_closed(lf.day, now) and not shipped:
                waiting += 1
                closed = closes_at(lf.day)
                oldest = closed if oldest is None else min(oldest, closed)
    return {"waiting": waiting, "lag_seconds": round((now - oldest).total_seconds()) if oldest else 0}


def announce(
    settings: Settings, now: datetime | None = None, extra: Callable[[], dict[str, Any]] | None = None
) -> None:
    """Renew this host's presence with what it says of itself (writers, draining, shipping lag, and
    ``extra``: the tailers' lag of the running server); a draining host releases it."""
    now = now or datetime.now(UTC)
    base = settings.cluster_host
    configured = (
        [settings.writer_id] if settings.workers == 1 else [f"{base}-{i}" for i in range(settings.workers)]
    )
    writers = sorted({*configured, *(lf.writer for lf in list_log_files(settings.log_dir, "events"))})
    info = {
        "node": os.uname().nodename,
        "pid": os.getpid(),
        "writers": writers,
        "draining": is_draining(settings),
        "shipping": shipping_lag(settings, now),
        **(extra() if extra is not None else {}),
    }
    with LeaseStore(settings.effective_database_url) as leases:
        mine = leases.acquire(
            HOST_PREFIX + settings.cluster_host, host_holder(settings), HOST_TTL_SECONDS, info
        )
        if info["draining"] and mine is not None:
            leases.release(mine)


@dataclass
class DrainReport:
    host: str
    shipped: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def drain(settings: Settings, wait_s: float = 2 * DRAIN_CHECK_SECONDS + 0.5) -> DrainReport:
    """Stop collection on this host, ship everything, release its leases."""
    from headwater.shipping.service import ship

    report = DrainReport(settings.cluster_host)
    marker = drain_marker(settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(datetime.now(UTC).isoformat())
    time.sleep(wait_s)  # every writer has seen the marker; what it acknowledged before is on disk
    shipped = ship(settings, datetime.now(UTC), include_open=True)
    report.shipped, report.errors = [*shipped.uploaded, *shipped.parts], dict(shipped.errors)
    with LeaseStore(settings.effective_database_url) as leases:
        report.released = leases.release_all(settings.cluster_host + "@")
    return report


def join(settings: Settings) -> None:
    """Take collection back on this host and announce it."""
    drain_marker(settings).unlink(missing_ok=True)
    announce(settings)


def hosts_of(leases: list[Any]) -> list[dict[str, Any]]:
    """The hosts the leases know: alive (renewed within its time to live), gone, or left (drained)."""
    out = []
    for lease in leases:
        if not lease.job.startswith(HOST_PREFIX):
            continue
        state = "alive" if lease.held else "left" if lease.released_ms is not None else "gone"
        seen = datetime.fromtimestamp(lease.renewed_ms / 1000, UTC).isoformat(timespec="seconds")
        out.append(
            {
                "host": lease.job.removeprefix(HOST_PREFIX),
                "state": state,
                "last_seen": seen,
                "seconds_since": round((lease.now_ms - lease.renewed_ms) / 1000),
                **(lease.info or {}),
            }
        )
    return out


__all__ = ["DrainReport", "announce", "drain", "hosts_of", "join"]
