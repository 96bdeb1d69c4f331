"""Build an Experiment from plain data (a file, a JSON body), naming every bad field.

`parse_experiment` is for Headwater definitions: unknown fields, weights that do not sum to 1, a
coverage outside [0, 1], duplicate variation keys, ... are refused, each problem naming its field.
`experiment_from_growthbook` reads an experiment object the way GrowthBook's SDK does: lenient, with
GrowthBook's defaults (hash version 1, running), and leaves odd values to the assignment rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headwater.experiments.model import (
    Experiment,
    ExperimentMetrics,
    Filter,
    Metric,
    MetricKind,
    Namespace,
    Status,
    VariationMeta,
)

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
WEIGHT_SUM_TOLERANCE = 1e-4  # GrowthBook's UI rounds weights to 4 decimals (3 x 0.3333 = 0.9999)

_FIELDS = {
    "key", "name", "variations", "weights", "coverage", "hashAttribute", "fallbackAttribute",
    "hashVersion", "seed", "namespace", "phase", "meta", "force", "ranges", "filters", "condition",
    "status", "metrics",
}  # fmt: skip
_METRIC_FIELDS = {"key", "kind", "event", "property", "window_days", "inverse", "cuped"}


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ExperimentInvalid(ValueError):
    """A definition was refused; `problems` names each bad field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class _Checker:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.problems: list[Problem] = []

    def bad(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.prefix + name, message))


def parse_experiment(data: Mapping[str, Any], *, where: str = "") -> Experiment:
    """A Headwater definition, validated; raises ExperimentInvalid naming every bad field."""
    c = _Checker(where)
    if not isinstance(data, Mapping):
        raise ExperimentInvalid([Problem(where.rstrip(".") or "experiment", "must be a table/object")])
    for extra in sorted(set(data) - _FIELDS):
        c.bad(extra, "unknown field")
    key = data.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        c.bad("key", "required: 1-200 letters, digits, '_', '-' or '.', starting with a letter or digit")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        c.bad("name", "must be a string")
    variations = data.get("variations")
    n = 0
    if not isinstance(variations, list) or len(variations) < 2:
        c.bad("variations", "required: a list of at least 2 values (the control first)")
    else:
        n = len(variations)
    _check_weights(c, data.get("weights", None), n)
    coverage = data.get("coverage", 1.0)
    if not _is_number(coverage) or not 0 <= coverage <= 1:
        c.bad("coverage", f"must be a number in [0, 1], got {coverage!r}")
    for attr in ("hashAttribute", "fallbackAttribute", "seed"):
        v = data.get(attr)
        if v is not None and (not isinstance(v, str) or not v):
            c.bad(attr, "must be a non-empty string")
    if data.get("hashVersion", 2) not in (1, 2) or isinstance(data.get("hashVersion"), bool):
        c.bad("hashVersion", f"must be 1 or 2, got {data.get('hashVersion')!r}")
    phase = data.get("phase", "0")
    if isinstance(phase, bool) or not isinstance(phase, str | int) or str(phase) == "":
        c.bad("phase", "must be a non-empty string or an integer")
    _check_namespace(c, data.get("namespace"))
    _check_meta(c, data.get("meta"), n)
    force = data.get("force")
    if force is not None and (isinstance(force, bool) or not isinstance(force, int) or not 0 <= force < n):
        c.bad("force", f"must be a variation index in [0, {max(n - 1, 0)}]")
    _check_ranges(c, "ranges", data.get("ranges"), n)
    filters = data.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            c.bad("filters", "must be a list")
        else:
            for i, f in enumerate(filters):
                if not isinstance(f, Mapping) or not isinstance(f.get("seed"), str):
                    c.bad(f"filters[{i}]", "must be a table with a string seed and ranges")
                else:
                    _check_ranges(c, f"filters[{i}].ranges", f.get("ranges"), None)
    condition = data.get("condition")
    if condition is not None and not isinstance(condition, Mapping):
        c.bad("condition", "must be a table/object of attribute conditions")
    status = data.get("status", "draft")
    if status not in {s.value for s in Status}:
        c.bad("status", f"must be one of draft, running, stopped; got {status!r}")
    metrics = _parse_metrics(c, data.get("metrics"))
    if c.problems:
        raise ExperimentInvalid(c.problems)
    return _build(data, default_hash_version=2, default_status=Status.DRAFT, metrics=metrics)


def _check_weights(c: _Checker, weights: Any, n: int) -> None:
    if weights is None:
        return
    if not isinstance(weights, list) or not all(_is_number(w) for w in weights):
        c.bad("weights", "must be a list of numbers")
        return
    if n and len(weights) != n:
        c.bad("weights", f"must have one weight per variation ({n}), got {len(weights)}")
    for i, w in enumerate(weights):
        if w < 0:
            c.bad(f"weights[{i}]", f"must not be negative, got {w}")
    total = sum(weights)
    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        c.bad("weights", f"must sum to 1, got {total:g}")


def _check_namespace(c: _Checker, ns: Any) -> None:
    if ns is None:
        return
    ok = (
        isinstance(ns, list)
        and len(ns) == 3
        and isinstance(ns[0], str)
        and ns[0] != ""
        and _is_number(ns[1])
        and _is_number(ns[2])
        and 0 <= ns[1] < ns[2] <= 1
    )
    if not ok:
        c.bad("namespace", "must be [id, start, end] with 0 <= start < end <= 1")


def _check_meta(c: _Checker, meta: Any, n: int) -> None:
    if meta is None:
        return
    if not isinstance(meta, list) or (n and len(meta) != n):
        c.bad("meta", f"must be a list with one entry per variation ({n})")
        return
    seen: dict[str, int] = {}
    for i, m in enumerate(meta):
        if not isinstance(m, Mapping) or not isinstance(m.get("key"), str) or not m.get("key"):
            c.bad(f"meta[{i}].key", "required: a non-empty string")
            continue
        if m["key"] in seen:
            c.bad(f"meta[{i}].key", f"duplicate variation key {m['key']!r} (also meta[{seen[m['key']]}])")
        seen.setdefault(m["key"], i)
        if m.get("name") is not None and not isinstance(m.get("name"), str):
            c.bad(f"meta[{i}].name", "must be a string")


def _check_ranges(c: _Checker, name: str, ranges: Any, n: int | None) -> None:
    if ranges is None:
        return
    if not isinstance(ranges, list) or (n is not None and n and len(ranges) != n):
        c.bad(name, "must be a list of [start, end] pairs" + (f", one per variation ({n})" if n else ""))
        return
    for i, r in enumerate(ranges):
        if not (
            isinstance(r, list) and len(r) == 2 and all(_is_number(x) for x in r) and 0 <= r[0] <= r[1] <= 1
        ):
            c.bad(f"{name}[{i}]", "must be [start, end] with 0 <= start <= end <= 1")


def _parse_metrics(c: _Checker, data: Any) -> ExperimentMetrics:
    if data is None:
        return ExperimentMetrics()
    if not isinstance(data, Mapping):
        c.bad("metrics", "must be a table with primary, secondary, guardrail")
        return ExperimentMetrics()
    for extra in sorted(set(data) - {"primary", "secondary", "guardrail"}):
        c.bad(f"metrics.{extra}", "unknown field (expected primary, secondary, guardrail)")
    primary = _parse_metric(c, "metrics.primary", data["primary"]) if "primary" in data else None
    groups: dict[str, tuple[Metric, ...]] = {}
    for group in ("secondary", "guardrail"):
        items = data.get(group, [])
        if not isinstance(items, list):
            c.bad(f"metrics.{group}", "must be a list of metrics")
            items = []
        parsed = (_parse_metric(c, f"metrics.{group}[{i}]", m) for i, m in enumerate(items))
        groups[group] = tuple(m for m in parsed if m is not None)
    result = ExperimentMetrics(primary=primary, secondary=groups["secondary"], guardrail=groups["guardrail"])
    seen: set[str] = set()
    for m in result.all():
        if m.key in seen:
            c.bad("metrics", f"duplicate metric key {m.key!r}")
        seen.add(m.key)
    return result


def _parse_metric(c: _Checker, where: str, m: Any) -> Metric | None:
    if not isinstance(m, Mapping):
        c.bad(where, "must be a table with key, kind, event")
        return None
    before = len(c.problems)
    for extra in sorted(set(m) - _METRIC_FIELDS):
        c.bad(f"{where}.{extra}", "unknown field")
    for req in ("key", "event"):
        if not isinstance(m.get(req), str) or not m.get(req):
            c.bad(f"{where}.{req}", "required: a non-empty string")
    kind = m.get("kind")
    if kind not in {k.value for k in MetricKind}:
        c.bad(f"{where}.kind", f"must be one of conversion, count, sum; got {kind!r}")
    elif kind == MetricKind.SUM and not isinstance(m.get("property"), str):
        c.bad(f"{where}.property", "required for a sum metric: the numeric property to add up")
    window = m.get("window_days")
    if window is not None and (not _is_number(window) or window <= 0):
        c.bad(f"{where}.window_days", "must be a positive number of days")
    for flag in ("inverse", "cuped"):
        if flag in m and not isinstance(m[flag], bool):
            c.bad(f"{where}.{flag}", "must be true or false")
    if len(c.problems) > before:
        return None
    return Metric(
        key=m["key"],
        kind=MetricKind(str(kind)),
        event=m["event"],
        property_name=m.get("property"),
        window_days=float(window) if window is not None else None,
        inverse=bool(m.get("inverse", False)),
        cuped=bool(m.get("cuped", True)),
    )


def experiment_from_growthbook(data: Mapping[str, Any]) -> Experiment:
    """An experiment object as GrowthBook's SDK reads it (lenient; hash version 1 when absent).

    GrowthBook's `active: false` maps to status draft; anything else is running."""
    status = Status.DRAFT if data.get("active", True) is False else Status.RUNNING
    return _build(data, default_hash_version=1, default_status=status, metrics=ExperimentMetrics())


def _build(
    data: Mapping[str, Any], *, default_hash_version: int, default_status: Status, metrics: ExperimentMetrics
) -> Experiment:
    ns = data.get("namespace")
    meta = data.get("meta")
    filters = data.get("filters")
    coverage = data.get("coverage")
    return Experiment(
        key=str(data.get("key", "")),
        variations=tuple(data.get("variations") or ()),
        name=data.get("name"),
        weights=tuple(float(w) for w in data["weights"]) if data.get("weights") is not None else None,
        coverage=float(coverage) if coverage is not None else 1.0,
        hash_attribute=data.get("hashAttribute") or "id",
        fallback_attribute=data.get("fallbackAttribute") or None,
        hash_version=int(data.get("hashVersion") or default_hash_version),
        seed=data.get("seed") or None,
        namespace=Namespace(str(ns[0]), float(ns[1]), float(ns[2])) if ns else None,
        phase=str(data.get("phase", "0")),
        meta=tuple(
            VariationMeta(str(m.get("key", i)), m.get("name"), bool(m.get("passthrough", False)))
            for i, m in enumerate(meta)
        )
        if meta
        else None,
        force=data.get("force"),
        ranges=tuple((float(a), float(b)) for a, b in data["ranges"]) if data.get("ranges") else None,
        filters=tuple(
            Filter(
                seed=str(f.get("seed", "")),
                ranges=tuple((float(a), float(b)) for a, b in f.get("ranges", [])),
                attribute=f.get("attribute"),
                hash_version=int(f.get("hashVersion", 2)),
            )
            for f in filters
        )
        if filters
        else None,
        condition=data.get("condition"),
        status=Status(data["status"]) if "status" in data else default_status,
        metrics=metrics,
    )
