"""Retention: cohorts by first-ever start event ("first") or by every period with it ("recurring"),
per day, week or month, counting returns "on" period k or "on or after" period k.

Observation stops at the range's end: a period that ends after it is flagged incomplete, and the
weighted average of period k (sum of returns / sum of cohort sizes) uses complete cohorts only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.metrics.options import retention_options
from headwater.metrics.periods import index_of, index_sql
from headwater.metrics.shapes import cohort_rows


def _activity(scope: Scope, event: str | None, period: str, last: date, people: str | dict[str, str]) -> str:
    """(person, period index) pairs. ``people`` (see _people): "any" (both sides any event: dense
    ids, hashes or names, as person_periods and person_days choose), the named events' sources
    from the step rollup (people as hashes), or "names" (the events read); both sides agree."""
    if people == "any":
        table = scope.person_periods(period, last)
        if table is not None:
            return f"SELECT person, p FROM {table}"
        source = scope.person_days(None, last)
    elif isinstance(people, dict):
        source = scope.hashed_days(None, last) if event is None else people[event]
    elif event is None:
        source = scope.user_days(None, last)
    else:
        source = f"SELECT day, person FROM ({scope.events(None, last)}) WHERE event = {quote(event)}"
    return f"SELECT DISTINCT person, {index_sql(period)} AS p FROM ({source}) WHERE person IS NOT NULL"


def _people(
    scope: Scope, start_event: str | None, return_event: str | None, last: date
) -> str | dict[str, str]:
    """How both sides name people (see _activity): "any" without a named event; each named
    event's (day, person) source when every one can be read from the ETL's (event, actor_hash,
    ts) rollup (only its row groups, no actor string: a cohort's event since the data's start
    costs little); else "names"."""
    named = {e for e in (start_event, return_event) if e is not None}
    if not named:
        return "any"
    steps: dict[str, str] = {}
    for event in sorted(named):
        source = scope.step_people(None, last, event)
        if source is None:
            return "names"
        steps[event] = source
    return steps


def retention(
    scope: Scope,
    period: str | None = None,
    mode: str | None = None,
    cohort: str | None = None,
    start_event: str | None = None,
    return_event: str | None = None,
) -> dict[str, Any]:
    period, mode, cohort = retention_options(period, mode, cohort)
    rng = scope.rng
    lo, hi = index_of(period, rng.start), index_of(period, rng.end)
    people = _people(scope, start_event, return_event, rng.end)
    # the start event's (person, period) pairs and the cohorts, each computed once (a scan of the
    # events since the start of the data: a cohort is who did it first in a period)
    act = _activity(scope, start_event, period, rng.end, people)
    scope.sql(f"CREATE OR REPLACE TEMP TABLE hw_ret_act AS {act}")
    ret = (
        "SELECT * FROM hw_ret_act"
        if return_event == start_event
        else _activity(scope, return_event, period, rng.end, people)
    )
    if cohort == "first":
        coh = (
            f"SELECT person, min(p) AS c FROM hw_ret_act GROUP BY person HAVING min(p) BETWEEN {lo} AND {hi}"
        )
    else:
        coh = f"SELECT person, p AS c FROM hw_ret_act WHERE p BETWEEN {lo} AND {hi}"
    scope.sql(f"CREATE OR REPLACE TEMP TABLE hw_ret_coh AS {coh}")
    base = f"WITH ret AS ({ret}), coh AS (SELECT * FROM hw_ret_coh)"
    sizes = dict(scope.sql(f"{base} SELECT c, count(*) FROM coh GROUP BY c"))
    if mode == "on":
        found = scope.sql(
            f"""{base} SELECT coh.c, r.p - coh.c AS k, count(*) FROM coh
                JOIN ret r ON r.person = coh.person AND r.p > coh.c AND r.p <= {hi} GROUP BY ALL"""
        )
        returned = {(int(c), int(k)): int(n) for c, k, n in found}
    else:
        found = scope.sql(
            f"""{base} SELECT c, kmax, count(*) FROM (
                    SELECT coh.person, coh.c, max(r.p) - coh.c AS kmax FROM coh
                    JOIN ret r ON r.person = coh.person AND r.p > coh.c AND r.p <= {hi}
                    GROUP BY coh.person, coh.c
                ) GROUP BY c, kmax"""
        )
        returned = {}
        for c, kmax, n in found:
            for k in range(1, int(kmax) + 1):
                returned[(int(c), k)] = returned.get((int(c), k), 0) + int(n)
    rows, average = cohort_rows(sizes, returned, lo, hi, period, rng.end)
    missing = sorted(d.isoformat() for d in scope.missing_days(rng.days()))
    return {
        "rows": rows,
        "average": average,
        "period": period,
        "mode": mode,
        "cohort": cohort,
        "missing_days": missing,
    }
