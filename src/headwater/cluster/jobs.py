"""Running a scheduled job under its lease (headwater.stores.sql.leases): taken before the job,
renewed by a heartbeat thread while it runs, released after. A job whose lease is held elsewhere
does not run here. When the heartbeat finds the lease lost (this host paused longer than the time
to live and another took over), ``lost`` is set: the job checks it between steps and stops."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from headwater.config import Settings
from headwater.stores.sql.leases import Lease, LeaseStore

log = logging.getLogger("headwater.cluster")

#: the job names (docs/scale-out.md)
PIPELINE = "pipeline"
HOST_PREFIX = "host/"


def holder_id(settings: Settings) -> str:
    """Who holds a lease: the host, its node name and the process."""
    return f"{settings.cluster_host}@{os.uname().nodename}:{os.getpid()}"


@dataclass
class HeldJob:
    lease: Lease
    lost: threading.Event = field(default_factory=threading.Event)


@contextmanager
def job_lease(settings: Settings, job: str, ttl_s: float | None = None) -> Iterator[HeldJob | None]:
    """Yields the held job, or None when another host holds its lease (the caller skips the job).
    ``ttl_s``: HEADWATER_CLUSTER_LEASE_SECONDS unless given."""
    ttl_s = settings.cluster_lease_seconds if ttl_s is None else ttl_s
    store = LeaseStore(settings.effective_database_url)
    try:
        lease = store.acquire(job, holder_id(settings), ttl_s)
        if lease is None:
            yield None
            return
        held = HeldJob(lease)
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(store, held, ttl_s, stop), daemon=True)
        beat.start()
        try:
            yield held
        finally:
            stop.set()
            beat.join()
            if not held.lost.is_set():
                store.release(held.lease)
    finally:
        store.close()


def _heartbeat(store: LeaseStore, held: HeldJob, ttl_s: float, stop: threading.Event) -> None:
    while not stop.wait(ttl_s / 3):
        try:
            renewed = store.renew(held.lease, ttl_s)
        except Exception:  # the database is away: keep trying until the lease would expire
            log.exception("lease %s not renewed", held.lease.job)
            continue
        if renewed is None:
            log.error("lease %s lost: another host took the job over", held.lease.job)
            held.lost.set()
            return
        held.lease = renewed
