"""What a warehouse metric query reads: the exported ``events``, one row per id, people resolved.

The BigQuery counterpart of :mod:`headwater.lake.scope`, with the same definitions:

- **dedup**: the exporter may hold one message twice (a retry received in another hour). A query
  first keeps the partitions of its UTC dates, one more on each side (``timestamp`` compared with
  constants: BigQuery prunes the other partitions), then keeps one row per id, the first received
  (``QUALIFY ROW_NUMBER() ...``), and only then applies the exact bounds of its local days. A view
  deduplicating the whole table could not be pruned. The margin matches the lake's dedup, which
  looks one day around each event date.
- **people**: ``person = COALESCE(identities.user_id, actor)``; an event without an actor belongs
  to nobody and is dropped.
- **days**: ``DATE(timestamp, tz)``, the local day in the query's IANA zone (right across DST); the
  bounds of local days are their local midnights in UTC, computed in Python like the lake does.

Values reach the SQL as query parameters (``Params``), never spliced into the text, except
integers and the few literals built by :func:`bq_string` from checked text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headwater.lake.params import MetricError, Range
from headwater.stores.warehouse.ports import Warehouse
from headwater.warehouse.schema import EVENT_COLUMN_NAMES, EVENTS, IDENTITIES

#: UTC days read on each side of a query's days before deduplicating by id (the lake's dedup looks
#: one day around each event date).
DEDUP_MARGIN_DAYS = 1
#: A received day counts as covered (not missing) when it holds an event of its own date or of up to
#: this many days before (late events); see WarehouseScope.missing_days.
LATE_DAYS = 7

_DEDUP = "QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY received_at, timestamp, export_hour) = 1"
_SAFE_TEXT = re.compile(r"^[^'\"\\\x00-\x1f\x7f]*$")


class Params:
    """The query parameters of one statement: ``p(value)`` is the SQL naming a parameter that
    holds ``value`` (one parameter per distinct value)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        for name, held in self.values.items():
            if type(held) is type(value) and held == value:
                return f"@{name}"
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"@{name}"


def bq_string(text: str, what: str) -> str:
    """A BigQuery string literal of text without quotes, backslashes or control characters (those
    are refused, naming ``what``): the one place a value is written into SQL text."""
    if not _SAFE_TEXT.match(text):
        raise MetricError(
            "bad_parameter",
            f"parameter {what!r} may not contain quotes, backslashes or control characters with"
            f" engine=warehouse: {text!r}",
        )
    return f"'{text}'"


def json_path(key: str, what: str) -> str:
    """The JSONPath literal of one top-level key (``$.key`` or ``$."a key"``): the key is a key,
    never a path (``$.x``, ``a.b`` and ``a b`` are read as named); a key with a quote or a backslash
    is refused, naming ``what``."""
    bq_string(key, what)  # refuses what cannot be quoted
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"'$.{key}'"
    return f"'$.\"{key}\"'"


@dataclass
class Cost:
    """What a metric's queries cost: their number and the bytes BigQuery billed (None when the
    warehouse did not say for some query). The emulator always says 0."""

    queries: int = 0
    bytes_processed: int | None = 0

    def add(self, processed: int | None) -> None:
        self.queries += 1
        if processed is None or self.bytes_processed is None:
            self.bytes_processed = None
        else:
            self.bytes_processed += int(processed)


def midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class WarehouseScope:
    """One metric query's view of the warehouse (the counterpart of the lake's Scope)."""

    def __init__(self, warehouse: Warehouse, rng: Range, metric: str, cost: Cost | None = None) -> None:
        self.wh = warehouse
        self.rng = rng
        self.tz = rng.tz
        self.metric = metric
        self.cost = cost if cost is not None else Cost()
        self.events_table = warehouse.table(EVENTS)
        self.identities_table = warehouse.table(IDENTITIES)

    def run(self, sql: str, p: Params) -> list[dict[str, Any]]:
        """Run one statement (labelled with the metric, for the billing export)."""
        result = self.wh.query(sql, labels={"headwater": "metrics", "metric": self.metric}, params=p.values)
        self.cost.add(result.bytes_processed)
        return result.rows

    def utc_bounds(self, first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
        """[local midnight of ``first``, local midnight after ``last``) in UTC (None: unbounded)."""
        zone = ZoneInfo(self.tz)
        lo = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC) if first else None
        hi = (
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC) if last else None
        )
        return lo, hi

    def events(
        self,
        p: Params,
        first: date | None,
        last: date | None,
        columns: Sequence[str] = (),
        where: str = "TRUE",
    ) -> str:
        """SELECT ``person``, ``day`` (local), ``ts`` and ``columns`` of the events of local days
        first..last (None: unbounded) that belong to someone, one row per id. ``where`` filters
        them after the dedup; it names event columns as ``e.<column>``."""
        unknown = [c for c in columns if c not in EVENT_COLUMN_NAMES]
        if unknown:
            raise ValueError(f"not a column of {EVENTS}: {unknown[0]}")
        lo, hi = self.utc_bounds(first, last)
        scan = []
        exact = ["e.actor IS NOT NULL"]
        if lo is not None:
            scan.append(f"timestamp >= {p(midnight_utc(lo.date() - timedelta(days=DEDUP_MARGIN_DAYS)))}")
            exact.append(f"e.timestamp >= {p(lo)}")
        if hi is not None:
            utc_last = (hi - timedelta(microseconds=1)).date()
            scan.append(f"timestamp < {p(midnight_utc(utc_last + timedelta(days=1 + DEDUP_MARGIN_DAYS)))}")
            exact.append(f"e.timestamp < {p(hi)}")
        inner = ", ".join(dict.fromkeys(["id", "actor", "timestamp", "received_at", "export_hour", *columns]))
        extra = "".join(f", e.{c}" for c in dict.fromkeys(columns) if c not in ("actor", "timestamp"))
        return f"""
            SELECT COALESCE(m.user_id, e.actor) AS person, DATE(e.timestamp, {p(self.tz)}) AS day,
                   e.timestamp AS ts{extra}
            FROM (
                SELECT {inner} FROM {self.events_table}
                WHERE {" AND ".join(scan) or "TRUE"}
                {_DEDUP}
            ) e
            LEFT JOIN {self.identities_table} m ON m.key = e.actor
            WHERE {" AND ".join(exact)} AND ({where})"""

    def person_days(self, p: Params, first: date | None, last: date | None) -> str:
        """SELECT DISTINCT (person, day) of local days first..last."""
        return f"SELECT DISTINCT person, day FROM ({self.events(p, first, last)})"

    def missing_days(self, days: list[date]) -> set[date]:
        """Local days without data, as the lake decides: a day is covered when its UTC date at local
        noon holds an event (by timestamp) or received one (by received_at); the lake looks at its
        log files, manifests and event dates, which the export mirrors. Received dates are read
        from events up to LATE_DAYS older than the candidates (partitions pruned): a received day
        holding only events older than that is reported missing here and not by the lake."""
        if not days:
            return set()
        zone = ZoneInfo(self.tz)
        noon = {d: datetime.combine(d, time(12), tzinfo=zone).astimezone(UTC).date() for d in days}
        c0, c1 = min(noon.values()), max(noon.values())
        p = Params()
        sql = f"""
            SELECT DISTINCT x AS d FROM (
                SELECT DATE(timestamp) AS t, DATE(received_at) AS r FROM {self.events_table}
                WHERE timestamp >= {p(midnight_utc(c0 - timedelta(days=LATE_DAYS)))}
                  AND timestamp < {p(midnight_utc(c1 + timedelta(days=2)))}
            ), UNNEST([t, r]) AS x
            WHERE x BETWEEN {p(c0)} AND {p(c1)}"""
        covered = {row["d"] for row in self.run(sql, p)}
        return {d for d in days if noon[d] not in covered}
