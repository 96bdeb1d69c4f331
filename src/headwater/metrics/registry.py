"""The metrics by name, their options, and the one entry point the CLI and the API share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.insights.cohorts import Cohorts, resolve_cohorts
from headwater.lake.params import MetricError, make_range
from headwater.lake.scope import Scope
from headwater.lake.swapped import read_again
from headwater.metrics import active, features, funnel, late_events, lifecycle, retention, sessions


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    func: Callable[..., dict[str, Any]]
    options: tuple[str, ...] = ()

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0] if self.func.__doc__ else ""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("dau", active.dau),
        Metric("wau", active.wau),
        Metric("mau", active.mau),
        Metric("stickiness", active.stickiness),
        Metric("features", features.features),
        Metric("preferences", features.preferences, ("property", "trait")),
        Metric("sessions", sessions.sessions),
        Metric("retention", retention.retention, ("period", "mode", "cohort", "start_event", "return_event")),
        Metric("funnel", funnel.funnel, ("steps", "window_days", "breakdown")),
        Metric("lifecycle", lifecycle.lifecycle, ("period",)),
        Metric("late_events", late_events.late_events),
    )
}


#: the metrics that count events whoever sent them: a cohort does not restrict them
NOT_BY_PEOPLE = ("late_events",)


def get_metric(name: str) -> Metric:
    metric = METRICS.get(name)
    if metric is None:
        raise MetricError(
            "unknown_metric", f"unknown metric {name!r}: expected one of {', '.join(METRICS)}", status=404
        )
    return metric


def run_metric(
    data_dir: Path,
    project_tz: str,
    name: str,
    start: str | None,
    end: str | None,
    tz: str | None = None,
    options: Mapping[str, Any] | None = None,
    cohorts: Cohorts | None = None,
) -> dict[str, Any]:
    """``{"metric", "start", "end", "tz", "rows": [...], ...}`` for a metric over local days; with
    the option ``in_cohort`` (a cohort's id, docs/insights.md) over the cohort's people only."""
    get_metric(name)  # an unknown name is refused before any data is read
    rng = make_range(start, end, tz, project_tz)
    given = dict(options or {})
    in_cohort = given.pop("in_cohort", None) or None
    if in_cohort is not None and name in NOT_BY_PEOPLE:
        raise MetricError(
            "bad_parameter", f"parameter 'in_cohort' does not apply to {name!r}: it counts events, not people"
        )
    members = (
        resolve_cohorts(cohorts, {str(in_cohort): "parameter 'in_cohort'"}) if in_cohort is not None else {}
    )

    def answer() -> dict[str, Any]:
        with Scope(data_dir, rng) as scope:
            for found in members.values():
                scope.restrict(str(found.path))
            return compute(scope, name, given)

    out = read_again(answer)
    if members:
        out["in_cohort"] = {"id": in_cohort, **members[str(in_cohort)].describe()}
    return out


def compute(scope: Scope, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The answer of metric ``name`` over an open scope's range (options checked first)."""
    metric = get_metric(name)
    given = {k: v for k, v in options.items() if v not in (None, "")}
    unknown = sorted(set(given) - set(metric.options))
    if unknown:
        allowed = ", ".join(metric.options) or "none"
        raise MetricError(
            "unknown_parameter", f"metric {name!r} takes no parameter {unknown[0]!r} (options: {allowed})"
        )
    body = metric.func(scope, **given)
    rng = scope.rng
    return {"metric": name, "start": rng.start.isoformat(), "end": rng.end.isoformat(), "tz": rng.tz, **body}
