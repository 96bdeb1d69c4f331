"""An experiment definition, with the field names of GrowthBook's experiment object plus Headwater's own.

GrowthBook's: key, variations, weights, coverage, hashAttribute, fallbackAttribute, hashVersion, seed,
namespace, phase, name, meta, force, ranges, filters, condition. Headwater's: status, metrics.
`condition` is the targeting by user attributes (GrowthBook's condition language, see conditions.py).
Instances are built and checked by validation.py; the dataclasses themselves trust their input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from headwater.experiments.hashing import BucketRange


class Status(StrEnum):
    DRAFT = "draft"  # defined, serves nobody: everyone gets the control, unflagged
    RUNNING = "running"  # assigns and logs exposures
    STOPPED = "stopped"  # ended: everyone gets the control (or `force`), results stay readable


class MetricKind(StrEnum):
    CONVERSION = "conversion"  # did the user do `event` within `window_days` of first exposure (0/1)
    COUNT = "count"  # how many `event`s per user
    SUM = "sum"  # sum of the numeric `property` of `event` per user


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    kind: MetricKind
    event: str
    property_name: str | None = None  # "property" in files; required for SUM
    window_days: float | None = None  # None: until the end of the analysis period
    inverse: bool = False  # lower is better (e.g. errors, latency)
    cuped: bool = True  # adjust with the same metric over the pre-exposure period

    @property
    def is_proportion(self) -> bool:
        return self.kind is MetricKind.CONVERSION


@dataclass(frozen=True, slots=True)
class ExperimentMetrics:
    primary: Metric | None = None
    secondary: tuple[Metric, ...] = ()
    guardrail: tuple[Metric, ...] = ()

    def all(self) -> tuple[Metric, ...]:
        head = (self.primary,) if self.primary is not None else ()
        return head + self.secondary + self.guardrail


@dataclass(frozen=True, slots=True)
class VariationMeta:
    key: str
    name: str | None = None
    passthrough: bool = False


@dataclass(frozen=True, slots=True)
class Filter:
    """GrowthBook filter: enrol only users whose hash under `seed` falls in one of `ranges`."""

    seed: str
    ranges: tuple[BucketRange, ...]
    attribute: str | None = None
    hash_version: int = 2


@dataclass(frozen=True, slots=True)
class Namespace:
    id: str
    start: float
    end: float

    def as_tuple(self) -> tuple[str, float, float]:
        return (self.id, self.start, self.end)


@dataclass(frozen=True, slots=True)
class Experiment:
    key: str
    variations: tuple[Any, ...]
    name: str | None = None
    weights: tuple[float, ...] | None = None  # None: equal weights
    coverage: float = 1.0
    hash_attribute: str = "id"
    fallback_attribute: str | None = None
    hash_version: int = 2
    seed: str | None = None  # None: the key
    namespace: Namespace | None = None
    phase: str = "0"
    meta: tuple[VariationMeta, ...] | None = None
    force: int | None = None
    ranges: tuple[BucketRange, ...] | None = None
    filters: tuple[Filter, ...] | None = None
    condition: Mapping[str, Any] | None = None
    status: Status = Status.DRAFT
    metrics: ExperimentMetrics = field(default_factory=ExperimentMetrics)

    @property
    def display_name(self) -> str:
        return self.name or self.key

    @property
    def hash_seed(self) -> str:
        return self.seed or self.key

    def variation_key(self, index: int) -> str:
        """GrowthBook's result `key`: the meta key, else the index as a string."""
        if self.meta is not None and index < len(self.meta):
            return self.meta[index].key
        return str(index)

    def variation_name(self, index: int) -> str:
        if self.meta is not None and index < len(self.meta) and self.meta[index].name:
            return self.meta[index].name or ""
        return self.variation_key(index)

    def variation_keys(self) -> list[str]:
        return [self.variation_key(i) for i in range(len(self.variations))]

    def index_of_key(self, key: str) -> int | None:
        for i in range(len(self.variations)):
            if self.variation_key(i) == key:
                return i
        return None

    def effective_weights(self) -> Sequence[float]:
        if self.weights is not None:
            return self.weights
        n = len(self.variations)
        return [1 / n] * n if n else []
