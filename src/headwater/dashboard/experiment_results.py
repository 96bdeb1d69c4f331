"""Experiment results for the dashboard, cached like the metric answers (metric_batch.py).

``GET /api/v1/experiments/{key}/results`` computes an experiment's results from the lake and the
log every time (about 0.6 s for 10,000 users over 90 days). The dashboard's panel asks
``GET /dashboard/data/experiments/{key}/results`` instead: the same function with the same
arguments and default options (the tests compare both answers), kept per process while the
definition, its phases, the lake and the recent log files are unchanged, or for up to
STALE_SECONDS after the log grew (a result moves little in a minute; the answer carries
``computed_at``). The warm-up service (warmup.py) computes the running experiments' results ahead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.dashboard.metric_batch import STALE_SECONDS, MetricCache
from headwater.dashboard.shared_cache import SharedAnswers, as_ours, plain
from headwater.stores.sql.experiments import ExperimentCatalog

MAX_ENTRIES = 64


@dataclass
class _Entry:
    version: tuple[Any, ...]
    signature: tuple[Any, Any]
    stored_at: float
    body: dict[str, Any]


class ResultsCache:
    def __init__(self, metrics: MetricCache) -> None:
        self.metrics = metrics  # for its data signature (lake manifests, recent log files)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.shared = SharedAnswers(metrics.data_dir / "run", "experiment")

    def _version(self, catalog: ExperimentCatalog, key: str) -> tuple[Any, ...] | None:
        stored = catalog.get(key)
        if stored is None:
            return None
        phases = tuple((p.phase, p.started_at, p.stopped_at) for p in catalog.phases(key))
        return stored.updated_at, stored.phase, phases

    def results(self, catalog: ExperimentCatalog, key: str) -> dict[str, Any] | None:
        """The results JSON of experiment ``key`` (None when there is no such experiment)."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one computation per experiment at a time; the others wait for it
            version = self._version(catalog, key)
            if version is None:
                return None
            signature = self.metrics.signature()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and _usable(entry, version, signature):
                return entry.body
            shared = self._from_disk(key, version, signature)
            if shared is not None:
                return shared
            from headwater.experiments.stored_results import stored_results  # numpy, scipy: on first use

            body = stored_results(catalog, key, self.metrics.data_dir, self.metrics.project_tz)
            if body is None:
                return None
            body = {**body, "computed_at": datetime.now(UTC).isoformat(timespec="seconds")}
            with self._lock:
                self._entries[key] = _Entry(version, signature, time.monotonic(), body)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.pop(next(iter(self._entries)))
            self.shared.put(key, {"version": version, "signature": signature}, body)
            return body

    def _from_disk(
        self, key: str, version: tuple[Any, ...], signature: tuple[Any, Any]
    ) -> dict[str, Any] | None:
        """The answer another process of the server stored, if it is as fresh as ours would be."""
        stored = self.shared.get(key)
        if stored is None:
            return None
        theirs, age, body = stored
        if not isinstance(theirs, dict) or theirs.get("version") != plain(version):
            return None
        disk = _Entry(version, as_ours(theirs.get("signature"), signature), time.monotonic() - age, body)
        if not _usable(disk, version, signature):
            return None
        with self._lock:
            self._entries[key] = disk
        return body


def _usable(entry: _Entry, version: tuple[Any, ...], signature: tuple[Any, Any]) -> bool:
    """Same definition and phases, and the same data (or the same lake, up to STALE_SECONDS old)."""
    return entry.version == version and (
        entry.signature == signature
        or (entry.signature[0] == signature[0] and time.monotonic() - entry.stored_at < STALE_SECONDS)
    )
