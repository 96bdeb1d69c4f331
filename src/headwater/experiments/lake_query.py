"""Per-variant sufficient statistics of an experiment's metrics, from the lake plus today's log.

DuckDB in memory over the Parquet files and the log files not loaded yet (headwater.lake.scope:
deduplicated by messageId, identities resolved at query time). A user is the resolved person; their
exposure is their first `Experiment Viewed` of this experiment and phase (its variation counts, a
later one in another variation is only counted in `multiple_exposures`). Per user and metric:

* post value: over [first exposure, first exposure + window_days) (no window: until now);
  conversion = did the event happen (0/1), count = how many, sum = the sum of a numeric property;
* pre value (CUPED covariate): the same metric over [first exposure - pre_days, first exposure).

Summed per variation: n, sum, sum of squares, and for CUPED the pre sums and the post x pre products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from headwater.experiments.exposure import EXPOSURE_EVENT
from headwater.experiments.model import Experiment, Metric, MetricKind
from headwater.lake.params import Range, today_in
from headwater.lake.scope import Scope
from headwater.lake.sql import json_key, quote

DEFAULT_PRE_DAYS = 14.0


@dataclass(frozen=True, slots=True)
class MetricSums:
    """One variation's sums for one metric (post = after exposure, pre = the CUPED covariate)."""

    n: int
    post_sum: float
    post_sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_of_products: float


@dataclass(frozen=True, slots=True)
class ExposureSummary:
    users: dict[str, int]  # variation key -> exposed users
    multiple_exposures: int  # users exposed to more than one variation (counted in their first)
    first_exposure: datetime | None
    last_exposure: datetime | None


def _micros(days: float) -> str:
    return f"to_microseconds(CAST({int(days * 86400 * 1_000_000)} AS BIGINT))"


def _value(metric: Metric) -> str:
    if metric.kind is MetricKind.SUM:
        path = json_key(metric.property_name or "")
        return f"coalesce(TRY_CAST(json_extract_string(e.properties, {path}) AS DOUBLE), 0)"
    return "1"


def _aggregate(metric: Metric, cond: str) -> str:
    if metric.kind is MetricKind.CONVERSION:
        return f"CAST(coalesce(bool_or({cond}), false) AS INTEGER)"
    if metric.kind is MetricKind.COUNT:
        return f"count(*) FILTER (WHERE {cond})"
    return f"coalesce(sum({_value(metric)}) FILTER (WHERE {cond}), 0)"


class ExperimentData:
    """One results query: open, read exposures, then the sums of each metric. A context manager."""

    def __init__(
        self,
        data_dir: Path,
        tz: str,
        exp: Experiment,
        metrics: Sequence[Metric],
        since: date | None = None,
        pre_days: float = DEFAULT_PRE_DAYS,
    ) -> None:
        self.exp = exp
        self.metrics = list(metrics)
        self.pre_days = pre_days
        today = today_in(tz)
        lookback = max([pre_days, *[m.window_days or 0 for m in metrics]])
        first = (since - timedelta(days=int(lookback) + 2)) if since else None
        self.scope = Scope(data_dir, Range(first or today, today + timedelta(days=1), tz))
        self._first = first

    def __enter__(self) -> ExperimentData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.scope.close()

    def load(self) -> ExposureSummary:
        events = sorted({m.event for m in self.metrics})
        names = ", ".join(quote(e) for e in [*events, EXPOSURE_EVENT])
        source = self.scope.events(self._first, None)
        self.scope.sql(
            f"CREATE TEMP TABLE xev AS SELECT person, event, ts, properties FROM ({source}) "
            f"WHERE person IS NOT NULL AND event IN ({names})"
        )
        key, phase = quote(self.exp.key), quote(self.exp.phase)
        self.scope.sql(f"""
            CREATE TEMP TABLE exposures AS
            SELECT person, arg_min(variation, ts) AS variation, min(ts) AS first_ts,
                   count(DISTINCT variation) AS variations
            FROM (
                SELECT person, ts, json_extract_string(properties, '$.variation_id') AS variation
                FROM xev
                WHERE event = {quote(EXPOSURE_EVENT)}
                  AND json_extract_string(properties, '$.experiment_id') = {key}
                  AND coalesce(json_extract_string(properties, '$.experiment_phase'), '0') = {phase}
            ) GROUP BY person
        """)
        rows = self.scope.sql("SELECT variation, count(*) FROM exposures GROUP BY variation")
        stats = self.scope.sql(
            "SELECT count(*) FILTER (WHERE variations > 1), min(first_ts), max(first_ts) FROM exposures"
        )
        multiple, lo, hi = stats[0]
        return ExposureSummary({str(r[0]): int(r[1]) for r in rows}, int(multiple or 0), lo, hi)

    def sums(self, metrics: Sequence[Metric]) -> list[dict[str, MetricSums]]:
        """Per metric, per variation key (only variations with exposed users appear): one pass over
        the exposed users' events for every metric."""
        if not metrics:
            return []
        per_user, totals = [], []
        for i, metric in enumerate(metrics):
            window = f" AND e.ts < x.first_ts + {_micros(metric.window_days)}" if metric.window_days else ""
            own = f"e.event = {quote(metric.event)}"
            post = f"{own} AND e.ts >= x.first_ts{window}"
            pre = f"{own} AND e.ts >= x.first_ts - {_micros(self.pre_days)} AND e.ts < x.first_ts"
            per_user.append(f"CAST({_aggregate(metric, post)} AS DOUBLE) AS v{i}")
            per_user.append(f"CAST({_aggregate(metric, pre)} AS DOUBLE) AS p{i}")
            totals.append(f"sum(v{i}), sum(v{i} * v{i}), sum(p{i}), sum(p{i} * p{i}), sum(v{i} * p{i})")
        names = ", ".join(quote(e) for e in sorted({m.event for m in metrics}))
        rows = self.scope.sql(f"""
            SELECT variation, count(*), {", ".join(totals)}
            FROM (
                SELECT x.person, x.variation, {", ".join(per_user)}
                FROM exposures x
                LEFT JOIN (SELECT * FROM xev WHERE event IN ({names})) e ON e.person = x.person
                GROUP BY x.person, x.variation
            ) GROUP BY variation
        """)
        out: list[dict[str, MetricSums]] = [{} for _ in metrics]
        for r in rows:
            for i in range(len(metrics)):
                values = (float(x or 0) for x in r[2 + 5 * i : 7 + 5 * i])
                out[i][str(r[0])] = MetricSums(int(r[1]), *values)
        return out
