"""Trends over the lake and the log not loaded yet (lake/scope.py): per interval bucket, series and
breakdown value, the events, unique users, or sum / average / percentiles of a numeric property.

One scan answers a trend. Its rows (rows_sql) are the events of the range (and of the previous
period with ``compare``) of any series, each with its bucket, breakdown value, a flag per series
(its event and its own filters) and the numeric property each series reads; the filters of the query
keep some of them. Without a breakdown, one GROUP BY over them answers. With one, they are kept in a
temporary table: the top values rank the breakdown values by the first series' value over the
whole range (then by events, then by value) and keeps ``limit`` of them, then the counts group every
other value as one (``$other``). Unique users are counted by the query per bucket and value, the
``$other`` group included: never summed (there, as bits set per person's number when they fit:
_numbered_people).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from headwater.insights.buckets import bucket_sql, bucket_starts
from headwater.insights.cohorts import Cohorts, attach, describe_cohorts, resolve_cohorts
from headwater.insights.columns import FilterColumns
from headwater.insights.conditions import json_numeric, json_skipped
from headwater.insights.request import Breakdown, Filter, Series, TrendRequest, parse_trend, trend_cohort_refs
from headwater.insights.trend_grouped import grouped_counts, grouped_plan, places
from headwater.insights.trend_rollup import rollup_source
from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.lake.swapped import read_again

OTHER = "$other"
NONE = "$none"
_QUANTILES = {"p50": 0.5, "p90": 0.9}
#: at most this many bits of people per group times groups counted as bits (_numbered_people): 128 MB
BITS_LIMIT = 1 << 30


def run_trend(
    data_dir: Path, project_tz: str, body: object, cohorts: Cohorts | None = None
) -> dict[str, Any]:
    """The answer of ``POST /api/v1/insights/trend`` for a JSON body (see docs/insights.md)."""
    query = parse_trend(body, project_tz)
    members = resolve_cohorts(cohorts, trend_cohort_refs(query))

    def answer() -> dict[str, Any]:
        with Scope(data_dir, query.rng) as scope:
            attach(scope, members)
            return trend(scope, query)

    out = read_again(answer)
    if members:
        out["cohorts"] = describe_cohorts(members)
    return out


def _event_match(series: Series) -> str:
    return "true" if series.event is None else f"event = {quote(series.event)}"


def _scan(query: TrendRequest) -> str:
    """The events any series reads, over the lake's columns (the scan skips the others)."""
    if any(s.event is None for s in query.series):
        return "true"
    names = sorted({s.event for s in query.series if s.event is not None})
    return f"event IN ({', '.join(quote(n) for n in names)})"


def _aggregates(query: TrendRequest, people: int = 0) -> str:
    """Per series i: its value ``v{i}`` and its skipped values ``k{i}`` (a property's)."""
    return ", ".join(
        f"{_aggregate(s, i, people)} AS v{i}, "
        + (f"count(*) FILTER (WHERE s{i} AND k{i})" if s.property else "0")  # a property's skipped values
        + f" AS k{i}"
        for i, s in enumerate(query.series)
    )


def _aggregate(series: Series, i: int, people: int = 0) -> str:
    """Series i's value over a group of rows; ``people``: unique users are the bits of the
    numbers of that many people (_numbered_people), else count(DISTINCT person)."""
    flag = f"FILTER (WHERE s{i})"
    if series.measure == "users" and people:
        return f"bit_count(bitstring_agg(n, 0, {people - 1}) {flag})"
    if series.measure == "events":
        return f"sum(w) {flag}"  # w: the events a row stands for (1, or a rollup row's count)
    if series.measure == "users":
        return f"count(DISTINCT person) {flag}"
    if series.measure == "sum":
        return f"sum(n{i}) {flag}"
    if series.measure == "avg":
        return f"avg(n{i}) {flag}"
    return f"quantile_cont(n{i}, {_QUANTILES[series.measure]}) {flag}"


def _people_only(query: TrendRequest) -> bool:
    """Whether the trend counts the people active in each bucket and nothing else (every series the
    unique users of any event, no filter, no breakdown): the person-day rollup answers it."""
    plain = all(s.event is None and s.measure == "users" and not s.filters for s in query.series)
    return plain and not query.filters and query.breakdown is None


def _people_rows(scope: Scope, query: TrendRequest) -> str:
    """rows_sql of a people-only trend, over (day, person) pairs: the rollup the metrics' DAU reads
    (every event with an actor, as the events are counted), not every event of the range."""
    rng = query.rng
    first = query.previous[0] if query.compare else rng.start
    current = f"day >= DATE {quote(rng.start.isoformat())}"
    bucket = bucket_sql(query.interval, rng.start)
    if query.compare:
        bucket = f"CASE WHEN {current} THEN {bucket} ELSE {bucket_sql(query.interval, query.previous[0])} END"
    flags = ", ".join(f"true AS s{i}, NULL::DOUBLE AS n{i}, false AS k{i}" for i in range(len(query.series)))
    return f"""
        SELECT person, ({current}) AS cur, {bucket} AS bucket, NULL::VARCHAR AS bd, 1 AS w, {flags}
        FROM ({scope.person_days(first, rng.end)}) WHERE person IS NOT NULL
    """


def rows_sql(scope: Scope, query: TrendRequest, numbered: bool = False) -> str:
    """SELECT of the events a trend counts: (person, cur, bucket, bd, w the number of events the row
    stands for, and per series i: s{i} whether the event counts for it, n{i} its numeric property,
    k{i} whether that value was skipped). The rows are the events, or the dimension-day rollup's
    where it answers the same (insights/trend_rollup.py). ``numbered``: a column ``n`` more after
    person, the person's number in Scope.number_people's table (NULL: none, or not the rollup)."""
    if _people_only(query):
        return _people_rows(scope, query)
    cols = FilterColumns(scope, query.rng.end)
    rng = query.rng
    flags = []
    for s in query.series:
        parts = [_event_match(s), *(cols.filter(f) for f in s.filters)]
        flags.append(" AND ".join(parts))
    matches = [cols.filter(f) for f in query.filters]
    glue = " AND " if query.filter_match == "all" else " OR "
    where = glue.join(matches) if matches else "true"
    numbers = [cols.column("event", s.property) if s.property else None for s in query.series]
    breakdown = cols.column(query.breakdown.type, query.breakdown.name) if query.breakdown else None
    if breakdown and query.breakdown and query.breakdown.type == "event":
        breakdown = f"({breakdown}->>'$')"  # the text of the JSON value (null: NULL)
    first = query.previous[0] if query.compare else rng.start
    atoms = "".join(f", {sql} AS {alias}" for alias, sql in cols.exprs.values())
    rollup = rollup_source(scope, query, first, numbered)
    if rollup is not None:
        number = ", e.n" if numbered else ""
        inner = (
            f"SELECT e.day, e.person{number}, e.event, e.events AS w{atoms} FROM ({rollup}) e {cols.joins()}"
        )
    else:
        source = cols.source(first, rng.end, _scan(query))
        inner = f"""
            SELECT hw_day(e.ts, {quote(rng.tz)}) AS day, e.person, e.event, 1 AS w{atoms}
            FROM ({source}) e
            {cols.joins()}
        """
    number = "" if not numbered else "n, " if rollup is not None else "NULL::INTEGER AS n, "
    current = f"day >= DATE {quote(rng.start.isoformat())}"
    bucket = bucket_sql(query.interval, rng.start)
    if query.compare:
        before = bucket_sql(query.interval, query.previous[0])
        bucket = f"CASE WHEN {current} THEN {bucket} ELSE {before} END"
    per_series = []
    for i, (flag, num) in enumerate(zip(flags, numbers, strict=True)):
        per_series.append(f"({flag}) AS s{i}")
        per_series.append(f"{json_numeric(num)} AS n{i}" if num else f"NULL::DOUBLE AS n{i}")
        per_series.append(f"{json_skipped(num)} AS k{i}" if num else f"false AS k{i}")
    return f"""
        SELECT person, {number}({current}) AS cur, {bucket} AS bucket,
               {breakdown or "NULL::VARCHAR"} AS bd, w, {", ".join(per_series)}
        FROM ({inner}) WHERE ({where}) AND ({" OR ".join(f"({f})" for f in flags)})
    """


def _counts(scope: Scope, query: TrendRequest) -> list[tuple[Any, ...]]:
    """(cur, bucket, rank, value, then per series its value and its skipped values) per group; rank
    and value are NULL for $other and without a breakdown.

    A trend the rollup answers (no breakdown, or one of its dimensions) is counted in one pass
    where it fits (insights/trend_grouped.py). Other breakdowns keep the rows in a temporary
    table (read twice: the ranking, then the counts; DuckDB spills it under its memory limit)."""
    first = query.previous[0] if query.compare else query.rng.start
    numbers = None if _people_only(query) else grouped_plan(scope, query, first, BITS_LIMIT)
    if numbers is not None:  # one pass over the rollup's rows (insights/trend_grouped.py)
        grouped = grouped_counts(scope, query, rows_sql(scope, query, numbered=numbers > 0), numbers)
        if grouped is not None:
            return grouped
    rows = rows_sql(scope, query)
    aggs = _aggregates(query)
    if not query.breakdown:
        plain = "cur, bucket, NULL::BIGINT AS r, NULL::VARCHAR AS bd"
        return scope.sql(f"SELECT {plain}, {aggs} FROM ({rows}) GROUP BY ALL")
    scope.sql(f"CREATE TEMP TABLE hw_trend_rows AS {rows}")
    top = scope.sql(
        f"""SELECT bd, row_number() OVER (ORDER BY v DESC NULLS LAST, n DESC, bd NULLS LAST) AS r
            FROM (SELECT bd, {_aggregate(query.series[0], 0)} AS v, sum(w) AS n
                  FROM hw_trend_rows WHERE cur GROUP BY bd)
            QUALIFY r <= {int(query.limit)}"""
    )
    ranks, place = places(top)
    source = "hw_trend_rows"
    people = _numbered_people(scope, query, len(ranks) + 1)
    if people:  # unique users as bits set per group (bitstring_agg): no hash of (group, person) pairs
        source = "hw_trend_rows t LEFT JOIN hw_trend_people USING (person)"
        aggs = _aggregates(query, people)
    counted = scope.sql(
        f"""SELECT cur, bucket, {place} AS k, {aggs}
            FROM {source} GROUP BY ALL"""
    )
    return [(cur, bucket, *ranks[None if k is None else int(k)], *rest) for cur, bucket, k, *rest in counted]


def _numbered_people(scope: Scope, query: TrendRequest, values: int) -> int:
    """How many people hw_trend_rows has, numbered 0..n-1 in the table hw_trend_people (person, n),
    when a series counts unique users and the counts' groups (buckets times ``values`` breakdown
    places) times n bits fit in BITS_LIMIT; else 0 (count(DISTINCT person) counts them).

    count(DISTINCT) per group hashes every (group, person) pair: 1.5 s of the 2.5 s of a trend of
    unique users per day broken down by browser over the 12.5M rows of the dimension-day rollup
    of bench_web's 50M lake; one bit per person and group set by bitstring_agg, 0.5 s with the
    numbering's join."""
    if not any(s.measure == "users" for s in query.series):
        return 0
    buckets = len(bucket_starts(query.interval, query.rng.start, query.rng.end))
    if query.compare:
        buckets += len(bucket_starts(query.interval, *query.previous))
    scope.sql(
        """CREATE OR REPLACE TEMP TABLE hw_trend_people AS
           SELECT person, (row_number() OVER () - 1)::BIGINT AS n
           FROM (SELECT DISTINCT person FROM hw_trend_rows WHERE person IS NOT NULL)"""
    )
    n = int(scope.sql("SELECT count(*) FROM hw_trend_people")[0][0])
    return n if n > 0 and buckets * values * n <= BITS_LIMIT else 0


def _value(measure: str, raw: Any) -> int | float | None:
    if measure in ("events", "users"):
        return int(raw or 0)
    if raw is None:
        return 0.0 if measure == "sum" else None
    number = float(raw)
    return round(number, 6) if math.isfinite(number) else None


def trend(scope: Scope, query: TrendRequest) -> dict[str, Any]:
    """The trend's answer over an open scope (see docs/insights.md for every field)."""
    result = _counts(scope, query)
    n = len(query.series)
    cells: dict[tuple[bool, date, int | None], tuple[Any, ...]] = {}
    top: dict[int, str] = {}
    skipped = [0] * n
    other = False
    for cur, bucket, rank, value, *rest in result:
        rank = None if rank is None else int(rank)
        if rank is None and query.breakdown:
            other = True
        elif rank is not None:
            top[rank] = NONE if value is None else str(value)
        cells[(bool(cur), bucket, rank)] = tuple(rest[0::2])
        for i in range(n):
            skipped[i] += int(rest[2 * i + 1] or 0)
    labels: list[tuple[int | None, str | None]] = [(r, top[r]) for r in sorted(top)]
    if other or not query.breakdown:
        labels.append((None, OTHER if query.breakdown else None))
    rows = []
    periods = [(True, query.rng.start, query.rng.end)]
    if query.compare:
        periods.append((False, *query.previous))
    for cur, first, last in periods:
        for day in bucket_starts(query.interval, first, last):
            for rank, label in labels:
                raw = cells.get((cur, day, rank), (None,) * n)
                values = {s.name: _value(s.measure, raw[i]) for i, s in enumerate(query.series)}
                lines: list[tuple[str, int | float | None]] = list(values.items())
                if query.formula is not None:
                    result_value = query.formula.evaluate(values)
                    lines.append(("formula", None if result_value is None else round(result_value, 6)))
                for name, v in lines:
                    row: dict[str, Any] = {"date": day.isoformat(), "series": name, "breakdown": label}
                    row["value"] = v
                    if query.compare:
                        row["period"] = "current" if cur else "previous"
                    rows.append(row)
    return _answer(scope, query, rows, [label for _, label in labels], skipped)


def _answer(
    scope: Scope,
    query: TrendRequest,
    rows: list[dict[str, Any]],
    labels: list[str | None],
    skipped: list[int],
) -> dict[str, Any]:
    rng = query.rng
    out: dict[str, Any] = {
        "insight": "trend",
        "start": rng.start.isoformat(),
        "end": rng.end.isoformat(),
        "tz": rng.tz,
        "interval": query.interval,
        "series": [_describe_series(s, skipped[i]) for i, s in enumerate(query.series)],
        "filters": [_describe_filter(f) for f in query.filters],
        "filter_match": query.filter_match,
        "breakdown": _describe_breakdown(query.breakdown),
        "breakdown_values": labels if query.breakdown else [],
        "limit": query.limit,
        "formula": query.formula.text if query.formula else None,
        "compare": query.compare,
        "rows": rows,
        "skipped_values": sum(skipped),
        "missing_days": sorted(d.isoformat() for d in scope.missing_days(rng.days())),
    }
    if query.compare:
        first, last = query.previous
        out["previous"] = {"start": first.isoformat(), "end": last.isoformat()}
    return out


def _describe_series(s: Series, skipped: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "event": s.event, "measure": s.measure, "property": s.property}
    if s.filters:
        out["filters"] = [_describe_filter(f) for f in s.filters]
    out["skipped_values"] = skipped
    return out


def _describe_filter(f: Filter) -> Mapping[str, Any]:
    value = list(f.value) if isinstance(f.value, tuple) else f.value
    return {"type": f.type, "name": f.name, "op": f.op, "value": value}


def _describe_breakdown(b: Breakdown | None) -> dict[str, str] | None:
    return None if b is None else {"type": b.type, "name": b.name}
