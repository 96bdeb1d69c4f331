"""When a trend reads the dimension-day rollup (lake/rollups/dimension_days.py) instead of the events.

A trend that counts events or unique users, filtered and broken down by derived dimensions the
rollup keeps, person traits or cohorts, needs of each event only its day, person, name and those
dimensions: the rollup's rows carry them with the number of events each stands for (``w`` in the
trend's rows), so the events are summed, and people counted distinct, over a few rows per person
and day. Series of any event read the rollup's level without event names (one row per person, day
and combination of dimensions), unless a filter or the breakdown reads ``tool_id``.
"""

from __future__ import annotations

from datetime import date

from headwater.insights.request import Filter, TrendRequest
from headwater.lake.rollups.dimension_days import DIMENSIONS
from headwater.lake.scope import Scope


def _references(query: TrendRequest) -> list[Filter | tuple[str, str]]:
    out: list[Filter | tuple[str, str]] = [*query.filters]
    for s in query.series:
        out.extend(s.filters)
    if query.breakdown is not None:
        out.append((query.breakdown.type, query.breakdown.name))
    return out


def rollup_source(scope: Scope, query: TrendRequest, first: date) -> str | None:
    """SELECT (person, day, event, events, and the rollup's columns the query reads) of local days
    first..end from the rollup, when it answers this trend exactly; None otherwise (read the events)."""
    if any(s.measure not in ("events", "users") or s.property is not None for s in query.series):
        return None
    columns: set[str] = set()
    for ref in _references(query):
        kind, name = (ref.type, ref.name) if isinstance(ref, Filter) else ref
        if kind in ("person", "cohort"):
            continue
        if kind != "derived" or (name not in DIMENSIONS and name != "tool_id"):
            return None  # an event property, or a dimension the rollup does not keep
        columns.add("tool_id" if name == "tool_id" else DIMENSIONS[name])
    every_event = all(s.event is None for s in query.series) and "tool_id" not in columns
    return scope.dimension_rows(first, query.rng.end, every_event, sorted(columns))
