"""The dashboard's answer caches of one process: metric answers, experiment results and saved
insights' answers, one set per data directory and project time zone, made on first use and kept
for the life of the process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from headwater.dashboard.experiment_results import ResultsCache
from headwater.dashboard.insight_answers import InsightAnswers
from headwater.dashboard.metric_batch import MetricCache


@dataclass(frozen=True, slots=True)
class DashboardCaches:
    metrics: MetricCache
    results: ResultsCache
    insights: InsightAnswers


_caches: dict[tuple[Path, str], DashboardCaches] = {}
_lock = threading.Lock()


def caches_for(data_dir: Path, project_tz: str) -> DashboardCaches:
    with _lock:
        found = _caches.get((data_dir, project_tz))
        if found is None:
            metrics = MetricCache(data_dir, project_tz)
            found = _caches[(data_dir, project_tz)] = DashboardCaches(
                metrics, ResultsCache(metrics), InsightAnswers(metrics)
            )
        return found
