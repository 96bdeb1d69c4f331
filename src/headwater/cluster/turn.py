"""One turn of a cluster host's scheduler (docs/scale-out.md), every few minutes on every host:
say it is alive, ship its closed files, then either run the pipeline (it got the lease) or pull
the lake the holder pushed. Raw-log retention follows on every host, over its own files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from headwater.cluster.jobs import PIPELINE, job_lease
from headwater.cluster.membership import announce, is_draining
from headwater.cluster.pipeline import pull_lake, run_pipeline
from headwater.config import Settings
from headwater.stores.sql.leases import LeaseStore

log = logging.getLogger("headwater.cluster")

#: how often a cluster host takes its turn
TURN_SECONDS = 300.0


@dataclass
class TurnReport:
    shipped: int = 0
    pipeline: dict[str, Any] | None = None  # this host ran it
    pipeline_holder: str | None = None  # another host holds it
    pulled: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def take_turn(
    settings: Settings, now: datetime | None = None, host_info: Callable[[], dict[str, Any]] | None = None
) -> TurnReport:
    from headwater.batch.holds import not_exported
    from headwater.shipping.service import open_store, ship

    now = now or datetime.now(UTC)
    report = TurnReport()
    try:
        announce(settings, now, host_info)
    except Exception as exc:
        report.errors["host"] = str(exc)
    shipped = ship(settings, now, still_needed=not_exported(settings))
    report.shipped = len(shipped.uploaded) + len(shipped.parts)
    report.errors.update({f"shipping {k}": v for k, v in shipped.errors.items()})
    store = open_store(settings)
    try:
        if is_draining(settings):  # a leaving host runs no job; it keeps reading the lake
            report.pulled = pull_lake(settings, store).as_dict()
        else:
            with job_lease(settings, PIPELINE) as held:
                if held is not None:
                    result = run_pipeline(settings, store, held, now.date())
                    report.pipeline = result.as_dict()
                    report.errors.update({f"etl {d}": e for d, e in result.failed.items()})
                else:
                    report.pulled = pull_lake(settings, store).as_dict()
        if report.pipeline is None:
            # this host's quarantine retention (the holder applied the lake's too, under the lease)
            from headwater.privacy.retention import apply_privacy_retention

            apply_privacy_retention(settings, now.date(), lake=False)
            with LeaseStore(settings.effective_database_url) as leases:
                holders = [x.holder for x in leases.list() if x.job == PIPELINE and x.held]
            report.pipeline_holder = holders[0] if holders else None
    finally:
        store.close()
    return report
