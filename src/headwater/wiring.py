"""The composition root: builds a process's :class:`~headwater.runtime.Runtime` from its settings.

The one place that knows which parts a server runs and how they depend on each other; every
factory it calls takes settings (and the stores it hands them), nothing else.
"""

from __future__ import annotations

import gc
import logging
from datetime import timedelta
from typing import Any

from headwater.admin_token import AdminToken
from headwater.alerts.checks import AlertChecks
from headwater.audiences.service import AudienceService
from headwater.batch.scheduler import EtlScheduler
from headwater.collector.ingest import Ingestor
from headwater.collector.keys import KeyCache
from headwater.collector.suppression import Suppression
from headwater.config import Settings
from headwater.dashboard.warmup import DashboardWarmup
from headwater.decisions.writer import DecisionLog
from headwater.events.normalize import Normalizer
from headwater.experiments.service import ExperimentsService
from headwater.http.collect import CollectorApp
from headwater.live.service import LiveService
from headwater.log.writers import LogWriters
from headwater.privacy.runner import DeletionRunner
from headwater.realtime.service import RealtimeQueries, realtime_tailer
from headwater.runtime import Runtime, Service
from headwater.stores.live import open_live
from headwater.stores.sql.accounts import SqlAccounts
from headwater.stores.sql.database import open_database
from headwater.stores.sql.keys import SqlWriteKeys
from headwater.stores.sql.privacy import SqlPrivacy

log = logging.getLogger("headwater.process")


def tailers_lag(statuses: dict[str, tuple[bool, dict[str, Any]]]) -> dict[str, Any]:
    """Each tailer's state and lag, as a cluster host announces them (docs/scale-out.md)."""
    keys = ("state", "lag_events", "lag_seconds")
    return {n: {k: d.get(k) for k in keys} for n, (_, d) in statuses.items() if n.startswith("tailer")}


def tune_gc() -> None:
    """Events are acyclic dicts: collect young objects far less often, and freeze start-up objects.

    Measured on the batch path: 19.9 -> 13.5 us per event in-process (bench/bench_collector.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


async def start_runtime(settings: Settings) -> Runtime:
    """Open the log, the stores and every service of this process's role, and start them."""
    from headwater.geo import describe_geo, open_geo

    # the geo database first (nothing to undo when it is unusable); only HTTP routes collect events
    geo = open_geo(settings) if settings.role != "background" else None
    writers = await LogWriters.open(
        settings.log_dir,
        settings.writer_id,
        settings.fsync,
        settings.fsync_interval_ms / 1000,
        settings.max_pending_bytes,
        settings.min_free_disk_mb << 20,
    )
    if settings.cluster:  # `headwater cluster drain` stops collection here (docs/scale-out.md)
        for writer in writers.all:
            writer.drain_marker = settings.run_dir / "draining"
    try:
        database = open_database(settings.effective_database_url)
    except BaseException:
        await writers.close()
        raise
    keys = KeyCache(SqlWriteKeys(database), settings.keys_refresh_seconds)
    normalizer = Normalizer(
        max_depth=settings.max_nesting_depth,
        ip_policy=settings.ip_policy,
        future_clamp=timedelta(hours=settings.future_clamp_hours),
        geo=geo,
    )
    ingestor = Ingestor(normalizer, writers.events, writers.quarantine, settings.max_event_bytes)
    token = AdminToken(settings)
    runtime = Runtime(settings, token, writers, database, keys, CollectorApp(settings, ingestor, keys))
    runtime.accounts = SqlAccounts(database)
    try:
        if settings.role != "background":  # only HTTP routes look keys up
            keys.load()
            keys.start()
        live = open_live(settings.redis_url)
        services: list[Service] = [realtime_tailer(settings)]
        if settings.role != "background":  # suppressed people's events are not stored (docs/privacy.md)
            suppression = Suppression(SqlPrivacy(database))
            ingestor.suppression = suppression
            services.append(suppression)
        runtime.realtime = RealtimeQueries(settings)
        services.append(runtime.realtime)
        if settings.runs_schedules:  # the background process, else the only (or first) worker
            scheduler = EtlScheduler(settings)
            scheduler.host_info = lambda: {"tailers": tailers_lag(runtime.statuses())}
            services.append(scheduler)
            services.append(DeletionRunner(settings, database, live))  # docs/privacy.md
            services.append(AlertChecks(settings))  # alerts on saved insights (docs/dashboard.md)
        runtime.live = LiveService(settings, live)
        # the nightly recompute: in a cluster, one host at a time (a lease), over the lake and the
        # other hosts' stamps in the shared live store (docs/scale-out.md)
        runtime.audiences = AudienceService(settings, live, nightly=settings.runs_schedules)
        runtime.experiments = ExperimentsService(settings, live)
        services += [runtime.live, runtime.audiences, runtime.experiments]
        if ingestor.suppression is not None:  # no segment and no exposure for a suppressed person
            runtime.audiences.lookup.suppressed = ingestor.suppression.is_suppressed
            runtime.experiments.assigner.suppressed = ingestor.suppression.is_suppressed
        if settings.role != "background" and settings.decision_sample > 0:  # 0: no file, no thread
            runtime.decisions = DecisionLog(settings.log_dir, settings.writer_id, settings.decision_sample)
            services.append(runtime.decisions)
        if settings.warehouse_url:  # exported by the process of the schedules, reported by all
            from headwater.warehouse.service import WarehouseExporter

            services.append(WarehouseExporter(settings))
        if settings.role != "http":  # one warm-up per server (see DashboardWarmup)
            services.append(DashboardWarmup(settings))
        runtime.services = services
        await runtime.start()
    except BaseException:
        await runtime.keys.stop()
        await writers.close()
        database.close()
        raise
    tune_gc()
    log.info(
        "writer %s ready",
        settings.writer_id,
        extra={"log_dir": str(settings.log_dir), "fsync": settings.fsync, "geo": describe_geo(geo)},
    )
    return runtime
