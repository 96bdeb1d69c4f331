"""The values an insight's filters and breakdown read of each event, each computed once as a
column of the inner query (trend, paths and web analytics share it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from headwater.insights.conditions import condition
from headwater.insights.dimensions import DERIVED_COLUMNS, derived_sql
from headwater.insights.request import Filter
from headwater.lake.scope import Scope
from headwater.lake.sql import json_key, quote


class FilterColumns:
    """The values a trend reads of each event, each computed once, as columns of the inner query:
    event properties (JSON), derived dimensions (the lake's ``d_`` columns, lake/derived.py) and
    person traits (text); and the lake's columns they read (``raw``: only those are scanned)."""

    def __init__(self, scope: Scope, end: date, raw: Iterable[str] = ("event",)) -> None:
        self.scope = scope
        self.end = end  # person traits: each person's latest value by this day
        self.exprs: dict[tuple[str, str], tuple[str, str]] = {}  # (type, name) -> (column, SQL)
        self.traits: dict[str, str] = {}  # trait name -> alias of its join
        self.cohorts: dict[str, str] = {}  # cohort id -> alias of its join
        self.raw = set(raw)

    def column(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self.exprs:
            alias = f"c{len(self.exprs)}"
            if kind == "event":
                sql = f"(e.properties->{json_key(name)})"
                self.raw.add("properties")
            elif kind == "derived":
                sql = derived_sql(name)
                self.raw.update(DERIVED_COLUMNS[name])
            elif kind == "cohort":
                join = self.cohorts.setdefault(name, f"k{len(self.cohorts)}")
                sql = f"CASE WHEN {join}.person IS NULL THEN 'false' ELSE 'true' END"
            else:
                join = self.traits.setdefault(name, f"t{len(self.traits)}")
                sql = f"{join}.v"
            self.exprs[key] = (alias, sql)
        return self.exprs[key][0]

    def filter(self, flt: Filter) -> str:
        return condition(flt, self.column(flt.type, flt.name), flt.type == "event")

    def source(self, first: date | None, last: date | None, where: str = "true") -> str:
        """Scope.person_events of local days first..last reading the columns ``raw``, the derived
        ones made readable first (in the log not loaded yet and in lake files older than them)."""
        columns = sorted(self.raw)
        self.scope.prepare_derived(columns, first, last, where)
        return self.scope.person_events(first, last, ", ".join(columns), where)

    def joins(self) -> str:
        out: list[str] = []
        for name, alias in self.traits.items():
            out.append(f"LEFT JOIN ({self._latest_trait(name)}) {alias} ON {alias}.person = e.person")
        for name, alias in self.cohorts.items():
            out.append(f"LEFT JOIN ({self._members(name)}) {alias} ON {alias}.person = e.person")
        return "\n".join(out)

    def _members(self, cohort_id: str) -> str:
        """(person): the cohort's members (insights/cohorts.py), people as the events' rows name them."""
        path = self.scope.cohort_files.get(cohort_id)
        if path is None:  # a caller that did not resolve the query's cohorts: a bug, not a user's error
            raise RuntimeError(f"cohort {cohort_id!r} was not resolved before the query")
        person = "hash(person)" if self.scope.hashed_people() else "person"
        return f"SELECT DISTINCT {person} AS person FROM read_parquet({quote(path)})"

    def _latest_trait(self, name: str) -> str:
        """(person, v): each person's latest non-null value of trait ``name`` by the range's end (as
        the preferences metric reads a trait); people as the events' rows name them (person_events)."""
        end = self.end
        values = self.scope.trait_values(name, end)
        if values is None:
            key = json_key(name)
            values = f"""SELECT person, ts, coalesce(traits->>{key}, context->'traits'->>{key}) AS v
                         FROM ({self.scope.events(None, end)})"""
        person = "hash(person)" if self.scope.hashed_people() else "person"
        return f"""SELECT {person} AS person, arg_max(v, ts) AS v FROM ({values})
                   WHERE person IS NOT NULL AND v IS NOT NULL GROUP BY person"""
