"""Product metrics computed in the warehouse (BigQuery SQL over the exported tables), with the lake's
definitions and JSON: ``headwater metrics NAME --engine warehouse`` and
``GET /api/v1/metrics/NAME?engine=warehouse`` (docs/warehouse-metrics.md).

Imports nothing heavy (no DuckDB, numpy or pyarrow): the HTTP worker loads it on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from headwater.lake.params import MetricError, make_range
from headwater.stores.warehouse.ports import Warehouse
from headwater.warehouse.metrics import active, cohorts, funnel
from headwater.warehouse.metrics.scope import Cost, WarehouseScope

__all__ = ["ENGINES", "SUPPORTED", "UNSUPPORTED", "Cost", "run_warehouse_metric"]

#: The engines a metric can run on (the lake is the default).
ENGINES = ("lake", "warehouse")


@dataclass(frozen=True, slots=True)
class WarehouseMetric:
    name: str
    func: Callable[..., dict[str, Any]]
    options: tuple[str, ...] = ()


#: The metrics the warehouse answers, with the lake's options (tests check they agree).
SUPPORTED: dict[str, WarehouseMetric] = {
    m.name: m
    for m in (
        WarehouseMetric("dau", active.dau),
        WarehouseMetric("wau", active.wau),
        WarehouseMetric("mau", active.mau),
        WarehouseMetric("features", active.features),
        WarehouseMetric(
            "retention", cohorts.retention, ("period", "mode", "cohort", "start_event", "return_event")
        ),
        WarehouseMetric("funnel", funnel.funnel, ("steps", "window_days", "breakdown")),
        WarehouseMetric("lifecycle", cohorts.lifecycle, ("period",)),
    )
}
#: The lake's other metrics: not (yet) written in BigQuery SQL.
UNSUPPORTED = ("stickiness", "preferences", "sessions", "late_events")


def check_engine(engine: str | None) -> str:
    """``lake`` (the default) or ``warehouse``; a MetricError naming the parameter otherwise."""
    value = engine or "lake"
    if value not in ENGINES:
        raise MetricError(
            "bad_parameter", f"parameter 'engine' must be one of {', '.join(ENGINES)}: {value!r}"
        )
    return value


def check_metric(name: str) -> WarehouseMetric:
    """The warehouse metric ``name``: 404 for a name no engine knows, 400 for a lake-only metric."""
    metric = SUPPORTED.get(name)
    if metric is not None:
        return metric
    if name in UNSUPPORTED:
        raise MetricError(
            "unsupported_metric",
            f"metric {name!r} is not available with engine=warehouse (it answers {', '.join(SUPPORTED)};"
            f" {', '.join(UNSUPPORTED)} need engine=lake)",
        )
    known = [*SUPPORTED, *UNSUPPORTED]
    raise MetricError(
        "unknown_metric", f"unknown metric {name!r}: expected one of {', '.join(known)}", status=404
    )


def run_warehouse_metric(
    warehouse: Warehouse,
    project_tz: str,
    name: str,
    start: str | date | None,
    end: str | date | None,
    tz: str | None = None,
    options: Mapping[str, Any] | None = None,
    cost: Cost | None = None,
) -> dict[str, Any]:
    """``{"metric", "start", "end", "tz", "rows": [...], ...}``: the lake's answer, from the warehouse.
    ``cost`` (if given) receives the number of queries and the bytes they were billed."""
    metric = check_metric(name)
    rng = make_range(start, end, tz, project_tz)
    given = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    unknown = sorted(set(given) - set(metric.options))
    if unknown:
        allowed = ", ".join(metric.options) or "none"
        raise MetricError(
            "unknown_parameter", f"metric {name!r} takes no parameter {unknown[0]!r} (options: {allowed})"
        )
    scope = WarehouseScope(warehouse, rng, name, cost)
    body = metric.func(scope, **given)
    return {"metric": name, "start": rng.start.isoformat(), "end": rng.end.isoformat(), "tz": rng.tz, **body}
