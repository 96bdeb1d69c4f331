"""The daily pipeline of a cluster (docs/scale-out.md), run by the host that holds the ``pipeline``
lease: start from the last lake pushed, load every pending day from every host's files, push the
lake after each day (a host taking over loses at most the day in progress, which it loads again),
and stop between days when the lease was lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from headwater.batch.etl import run_daily
from headwater.cluster.jobs import PIPELINE, HeldJob, holder_id, job_lease
from headwater.cluster.lake_mirror import LeaseLostError, MirrorReport, pull, push
from headwater.cluster.logs import clear_stage, pending_days, stage_day
from headwater.config import Settings
from headwater.shipping.manifest import Manifest
from headwater.stores.objects.ports import ObjectStore

log = logging.getLogger("headwater.cluster")

T = TypeVar("T")

#: how long a change of the lake (a deletion) waits for the pipeline lease before it fails (retried)
LAKE_CHANGE_WAIT_SECONDS = 1800.0


@dataclass
class PipelineReport:
    pulled: dict[str, Any] | None = None
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pushed: dict[str, Any] | None = None
    retention: dict[str, Any] | None = None  # what the lake's retention removed (docs/privacy.md)
    lost_lease: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mirror_cache(settings: Settings) -> Path:
    return settings.run_dir / "lake-mirror.json"


def pull_lake(settings: Settings, store: ObjectStore) -> MirrorReport:
    """Make this host's lake the last one pushed (any host, at any time: the lake's readers)."""
    return pull(settings.data_dir / "lake", store, mirror_cache(settings))


def push_lake(settings: Settings, store: ObjectStore, held: HeldJob) -> MirrorReport:
    return push(
        settings.data_dir / "lake",
        store,
        mirror_cache(settings),
        holder_id(settings),
        still_held=lambda: not held.lost.is_set(),
    )


def run_pipeline(settings: Settings, store: ObjectStore, held: HeldJob, today_utc: date) -> PipelineReport:
    """Load every pending day over all hosts' files, then apply the lake's retention, under the held
    lease; the lake is pushed after each day and at the end."""
    from headwater.privacy.retention import apply_privacy_retention

    report = PipelineReport()
    report.pulled = pull_lake(settings, store).as_dict()
    entries = list(Manifest(store, settings).load().entries.values())
    try:
        for day in pending_days(settings, entries, today_utc):
            if held.lost.is_set():
                report.lost_lease = True
                break
            stage = stage_day(settings, store, entries, day, today_utc)
            try:
                run_daily(settings.data_dir, day, settings.timezone, log_dir=stage)
            except Exception as exc:  # reported, retried at the next turn; the other days go on
                report.failed[day.isoformat()] = str(exc)
                log.exception("cluster pipeline: the day %s failed", day)
                continue
            report.loaded.append(day.isoformat())
            report.pushed = push_lake(settings, store, held).as_dict()
        if not report.lost_lease:
            report.retention = apply_privacy_retention(settings, today_utc)  # the lake's and this host's
            report.pushed = push_lake(settings, store, held).as_dict()
    except LeaseLostError:
        report.lost_lease = True
    finally:
        clear_stage(settings, keep=[today_utc])  # today's downloads: its next hour adds to them
    return report


def change_lake(
    settings: Settings, change: Callable[[], T], wait_s: float = LAKE_CHANGE_WAIT_SECONDS, poll_s: float = 5.0
) -> T:
    """Run ``change`` on the lake as the pipeline does: under the pipeline lease (waiting for it), on
    the last lake pushed, pushed after it, so every host pulls the change (a deletion's lake step)."""
    from headwater.shipping.service import open_store

    deadline = time.monotonic() + wait_s
    store = open_store(settings)
    try:
        while True:
            with job_lease(settings, PIPELINE) as held:
                if held is not None:
                    pull_lake(settings, store)
                    result = change()
                    push_lake(settings, store, held)
                    return result
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the pipeline lease stayed held by another host for {wait_s:g} s: the lake was not"
                    " changed (tried again later); `headwater cluster status` shows the holder"
                )
            time.sleep(poll_s)
    finally:
        store.close()
