"""A trend the dimension-day rollup answers, broken down by one of its dimensions or not at all,
counted in one pass.

trend.py keeps a broken-down trend's rows in a temporary table, ranks the breakdown values over
it, then counts it again per bucket and top value ($other for the rest). Where the rollup answers
the trend (insights/trend_rollup.py) and the breakdown is one of its dimensions, the rows are
instead grouped once by (period, bucket, value): per series its events (a sum) or its people as
bits set at their numbers (bitstring_agg over Scope.number_people's numbers, which the rollup's
rows carry in place of the person: one join gives both the identity map and the number). The top
values and the counts are then read from those few groups: the union of groups' bits (bit_or) is
their people, nobody counted twice, so a value's people over the whole range and $other's per
bucket are exact. The rows are never written anywhere.

It applies while the groups times the people fit in the bits limit, the groups bounded by the
breakdown's values in the rollup (counted first: a dictionary-encoded column read alone); else
trend.py's path answers. On bench_web's 50M-event lake, a 90-day trend of unique users per day
filtered by library and broken down by browser: 1.5 s that way, 0.63 s this way. Without a
breakdown, the groups are the buckets alone (and the people of any event unfiltered are the
person-day rollup's: trend.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.insights.buckets import bucket_starts
from headwater.insights.request import TrendRequest
from headwater.insights.trend_rollup import breakdown_values, rollup_source
from headwater.lake.scope import Scope
from headwater.lake.sql import quote

GROUPS = "hw_trend_groups"

Ranks = dict[int | None, tuple[Any, Any]]


def grouped_plan(scope: Scope, query: TrendRequest, first: date, bits_limit: int) -> int | None:
    """How many people to number (0: no series counts users) when grouped_counts answers the
    trend; None when it does not (then read the rows twice, as trend.py does)."""
    if rollup_source(scope, query, first) is None:
        return None
    values = 1 if query.breakdown is None else breakdown_values(scope, query, first)
    if values is None:
        return None
    if not any(s.measure == "users" for s in query.series):
        return 0
    buckets = len(bucket_starts(query.interval, query.rng.start, query.rng.end))
    if query.compare:
        buckets += len(bucket_starts(query.interval, *query.previous))
    people = max(scope.number_people(first, query.rng.end), 1)
    return people if buckets * values * people <= bits_limit else None


def grouped_counts(scope: Scope, query: TrendRequest, rows: str, people: int) -> list[tuple[Any, ...]] | None:
    """trend._counts' answer from ``rows`` (trend.rows_sql, people numbered when ``people``); None
    when a row's person had no number (then the caller counts the rows its own way)."""
    own = []
    for i, s in enumerate(query.series):
        counted = f"bitstring_agg(n, 0, {people - 1})" if s.measure == "users" else "sum(w)"
        own.append(f"{counted} FILTER (WHERE s{i}) AS v{i}")
    lost = "count(*) FILTER (WHERE n IS NULL)" if people else "0"
    scope.sql(
        f"""CREATE OR REPLACE TEMP TABLE {GROUPS} AS
            SELECT cur, bucket, bd, sum(w) AS w, {lost} AS lost, {", ".join(own)}
            FROM ({rows}) GROUP BY cur, bucket, bd"""
    )
    try:
        if people and int(scope.sql(f"SELECT coalesce(sum(lost), 0) FROM {GROUPS}")[0][0]):
            return None
        merged = ", ".join(f"{_merged(query, i)} AS v{i}, 0 AS k{i}" for i in range(len(query.series)))
        if query.breakdown is None:
            plain = scope.sql(f"SELECT cur, bucket, {merged} FROM {GROUPS} GROUP BY cur, bucket")
            return [(cur, bucket, None, None, *rest) for cur, bucket, *rest in plain]
        top = scope.sql(
            f"""SELECT bd, row_number() OVER (ORDER BY v DESC NULLS LAST, n DESC, bd NULLS LAST) AS r
                FROM (SELECT bd, {_merged(query, 0)} AS v, sum(w) AS n FROM {GROUPS} WHERE cur GROUP BY bd)
                QUALIFY r <= {int(query.limit)}"""
        )
        ranks, place = places(top)
        counted_rows = scope.sql(
            f"""SELECT cur, bucket, k, {merged}
                FROM (SELECT *, {place} AS k FROM {GROUPS}) GROUP BY cur, bucket, k"""
        )
    finally:
        scope.sql(f"DROP TABLE IF EXISTS {GROUPS}")
    return [
        (cur, bucket, *ranks[None if k is None else int(k)], *rest) for cur, bucket, k, *rest in counted_rows
    ]


def _merged(query: TrendRequest, i: int) -> str:
    """Series i's value over several groups: the people of the union of their bits, or the sum."""
    if query.series[i].measure == "users":
        return f"coalesce(bit_count(bit_or(v{i})), 0)"
    return f"sum(v{i})"


def places(top: list[tuple[Any, ...]]) -> tuple[Ranks, str]:
    """(place -> (rank, value), the SQL of a row's place): each row's top value by its place in a
    list (0: the top value NULL; NULL: $other), not a join of the rows with the top table: a fifth
    less time over millions of rows, as fast at 100 values."""
    texts: list[str] = []
    ranks: Ranks = {None: (None, None)}
    for bd, r in top:
        if bd is not None:
            texts.append(str(bd))
        ranks[len(texts) if bd is not None else 0] = (r, bd)
    listed = f"list_position([{', '.join(quote(t) for t in texts)}]::VARCHAR[], bd)" if texts else "NULL"
    found = "0" if 0 in ranks else "NULL"
    return ranks, f"CASE WHEN bd IS NULL THEN {found} ELSE {listed} END"
