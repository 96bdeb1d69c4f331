"""A/B testing domain: definitions, GrowthBook-compatible assignment, sticky buckets, exposures.

Pure: imports no framework or driver. Statistics live in `headwater.experiments.stats` (numpy/scipy),
which this package does not import, so assignment stays light.
"""

from headwater.experiments.assignment import Context, Result, evaluate, run, run_async
from headwater.experiments.model import Experiment, ExperimentMetrics, Metric, MetricKind, Status
from headwater.experiments.sticky import (
    AsyncStickyBucketStore,
    InMemoryStickyBucketStore,
    StickyBucketStore,
    StickyKey,
)
from headwater.experiments.validation import (
    ExperimentInvalid,
    Problem,
    experiment_from_growthbook,
    parse_experiment,
)

__all__ = [
    "AsyncStickyBucketStore",
    "Context",
    "Experiment",
    "ExperimentInvalid",
    "ExperimentMetrics",
    "InMemoryStickyBucketStore",
    "Metric",
    "MetricKind",
    "Problem",
    "Result",
    "Status",
    "StickyBucketStore",
    "StickyKey",
    "evaluate",
    "experiment_from_growthbook",
    "parse_experiment",
    "run",
    "run_async",
]
