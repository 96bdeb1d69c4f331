"""Saved insights' answers for the dashboard's tiles, cached like the experiment results
(experiment_results.py): per process, and on disk for the server's other processes, while the
lake and the recent log files are unchanged (or up to STALE_SECONDS after the log grew). The key
is the insight's kind and the exact query it runs (its range included), so an edit or another
range is another answer. A query that names a cohort is never cached: a cohort's members change
apart from the data (an edit of its rule). The warm-up (warmup.py) computes the insights pinned
to a dashboard ahead, over their own ranges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.dashboard.metric_batch import STALE_SECONDS, MetricCache
from headwater.dashboard.shared_cache import SharedAnswers, as_ours, state_text

MAX_ENTRIES = 256


@dataclass
class _Entry:
    signature: tuple[Any, Any]
    stored_at: float
    body: dict[str, Any]

    def usable(self, signature: tuple[Any, Any]) -> bool:
        return self.signature == signature or (
            self.signature[0] == signature[0] and time.monotonic() - self.stored_at < STALE_SECONDS
        )


def cacheable(query: Any) -> bool:
    return "cohort" not in state_text(query)


class InsightAnswers:
    def __init__(self, metrics: MetricCache) -> None:
        self.metrics = metrics  # for its data signature
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.shared = SharedAnswers(metrics.data_dir / "run", "insight")
        self.hits = 0  # answers found (in memory or on disk)
        self.misses = 0  # answers computed

    def answer(self, kind: str, query: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The answer of ``kind`` over ``query``: cached, or ``compute()`` (then cached)."""
        if not cacheable(query):
            return compute()
        key = state_text({"kind": kind, "query": query})
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one computation per query at a time; the others wait for it
            signature = self.metrics.signature()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and entry.usable(signature):
                self.hits += 1
                return entry.body
            stored = self.shared.get(key)
            if stored is not None:
                theirs, age, body = stored
                disk = _Entry(as_ours(theirs, signature), time.monotonic() - age, body)
                if disk.usable(signature):
                    self._keep(key, disk)
                    self.hits += 1
                    return body
            self.misses += 1
            body = compute()
            self._keep(key, _Entry(signature, time.monotonic(), body))
            self.shared.put(key, signature, body)
            return body

    def _keep(self, key: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
