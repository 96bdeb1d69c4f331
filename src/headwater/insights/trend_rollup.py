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


def _rollup_reads(query: TrendRequest) -> tuple[list[str], bool] | None:
    """(the rollup's columns the trend reads, whether it reads the every-event level), or None
    when the rollup does not answer it (module doc)."""
    if any(s.measure not in ("events", "users") or s.property is not None for s in query.series):
        return None
    columns: set[str] = set()
    for ref in _references(query):
        kind, name = (ref.type, ref.name) if isinstance(ref, Filter) else ref
        if kind in ("person", "cohort"):
            continue
        if kind != "derived" or (name not in DIMENSIONS and name != "tool_id"):
            return None  # an event property, or a dimension the rollup does not keep
        columns.add(_column(name))
    every_event = all(s.event is None for s in query.series) and "tool_id" not in columns
    return sorted(columns), every_event


def _column(name: str) -> str:
    return "tool_id" if name == "tool_id" else DIMENSIONS[name]


def rollup_source(scope: Scope, query: TrendRequest, first: date, numbered: bool = False) -> str | None:
    """SELECT (person, day, event, events, and the rollup's columns the query reads) of local days
    first..end from the rollup, when it answers this trend exactly; None otherwise (read the events).
    ``numbered``: people as their numbers in scope.number_people's table (NULL: not numbered)."""
    reads = _rollup_reads(query)
    if reads is None:
        return None
    columns, every_event = reads
    return scope.dimension_rows(first, query.rng.end, every_event, columns, numbered)


def breakdown_values(scope: Scope, query: TrendRequest, first: date) -> int | None:
    """How many values the trend's breakdown can take over local days first..end (NULL counted
    as one), when it is a derived dimension the rollup answers; None otherwise."""
    reads = _rollup_reads(query)
    if reads is None or query.breakdown is None or query.breakdown.type != "derived":
        return None
    return scope.dimension_values(first, query.rng.end, reads[1], _column(query.breakdown.name))
