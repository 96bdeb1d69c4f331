"""A trend query, checked: the model every engine reads, made from the JSON of
``POST /api/v1/insights/trend`` (or the CLI's options turned into the same JSON). Every refusal is a
MetricError (400) whose message names the field (``filters[1].op``, ``breakdown.name``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from headwater.insights.buckets import bucket_starts
from headwater.insights.formula import Formula, parse_formula
from headwater.lake.derived import NAMES as DERIVED_COLUMN_NAMES
from headwater.lake.params import FIRST_DAY, MetricError, Range, make_range
from headwater.targeting.audience_spec import ID_PATTERN
from headwater.targeting.audiences import OPS, Op

INTERVALS = ("day", "week", "month", "range")
MEASURES = ("events", "users", "sum", "avg", "p50", "p90")
#: the measures that read a numeric property
NUMERIC_MEASURES = ("sum", "avg", "p50", "p90")
FILTER_TYPES = ("event", "person", "derived", "cohort")
#: the derived dimensions a filter or breakdown names: the lake's derived columns (lake/derived.py)
#: but ``host`` (web analytics' own test of an outside referrer), and ``tool_id`` (a column of its own)
DERIVED = (*(name for name in DERIVED_COLUMN_NAMES if name != "host"), "tool_id")
MATCHES = ("all", "any")
SERIES_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_FILTERS = 50
MAX_IN_VALUES = 1000
MAX_NAME = 1024
MAX_TEXT = 10_000
#: the most rows an answer may hold (buckets x series x breakdown values x periods)
MAX_ROWS = 200_000
_FIELDS = {
    "start",
    "end",
    "tz",
    "interval",
    "series",
    "filters",
    "filter_match",
    "breakdown",
    "limit",
    "formula",
    "compare",
}


@dataclass(frozen=True, slots=True)
class Filter:
    type: str  # event | person | derived | cohort (a cohort's id; op eq or neq, value a boolean)
    name: str
    op: Op
    value: Any  # exists: True or False; in: a tuple of scalars; gt, lt: a float; else a scalar


@dataclass(frozen=True, slots=True)
class Series:
    name: str  # A, B, C ...
    event: str | None  # None: any event
    measure: str
    property: str | None  # the numeric property of sum, avg, p50, p90
    filters: tuple[Filter, ...] = ()  # this series only, all of them


@dataclass(frozen=True, slots=True)
class Breakdown:
    type: str  # event | person | derived | cohort (values 'true': members, 'false': the others)
    name: str


@dataclass(frozen=True, slots=True)
class TrendRequest:
    rng: Range
    interval: str
    series: tuple[Series, ...]
    filters: tuple[Filter, ...] = ()
    filter_match: str = "all"
    breakdown: Breakdown | None = None
    limit: int = DEFAULT_LIMIT
    formula: Formula | None = None
    compare: bool = False

    @property
    def previous(self) -> tuple[date, date]:
        """The period before the range, of the same number of days."""
        length = (self.rng.end - self.rng.start).days + 1
        return self.rng.start - timedelta(days=length), self.rng.start - timedelta(days=1)

    def all_filters(self) -> list[Filter]:
        return [*self.filters, *(f for s in self.series for f in s.filters)]


def bad(field: str, message: str, code: str = "bad_field") -> MetricError:
    return MetricError(code, f"field {field!r} {message}")


def parse_trend(body: object, project_tz: str) -> TrendRequest:
    """The checked trend query of a JSON object (see docs/insights.md), or a MetricError."""
    if not isinstance(body, Mapping):
        raise MetricError("bad_body", "the body must be a JSON object (see docs/insights.md)")
    unknown = sorted(str(k) for k in body if k not in _FIELDS)
    if unknown:
        raise bad(unknown[0], f"is not a field of a trend query (fields: {', '.join(sorted(_FIELDS))})")
    for name in ("start", "end", "tz"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            raise bad(name, "must be a string")
    rng = make_range(body.get("start"), body.get("end"), body.get("tz"), project_tz)
    interval = choice(body, "interval", INTERVALS, "day")
    raw_series = body.get("series")
    if not isinstance(raw_series, list) or not raw_series:
        raise bad("series", "must be a non-empty array of {event, measure, property}", "missing_field")
    if len(raw_series) > len(SERIES_NAMES):
        raise bad("series", f"may hold at most {len(SERIES_NAMES)} series (A to Z)")
    series = tuple(_series(s, i) for i, s in enumerate(raw_series))
    filters = parse_filters(body.get("filters"), "filters")
    filter_match = choice(body, "filter_match", MATCHES, "all")
    breakdown = _breakdown(body.get("breakdown"))
    limit = body.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise bad("limit", f"must be an integer from 1 to {MAX_LIMIT}: {limit!r}")
    formula = None
    if body.get("formula") is not None:
        formula = parse_formula(body["formula"], tuple(s.name for s in series))
    compare = body.get("compare", False)
    if compare is None:
        compare = False
    if not isinstance(compare, bool):
        raise bad("compare", f"must be true or false: {compare!r}")
    query = TrendRequest(rng, interval, series, filters, filter_match, breakdown, limit, formula, compare)
    if compare and query.previous[0] < FIRST_DAY:
        raise bad("compare", f"needs a previous period, which would start before {FIRST_DAY}")
    _check_size(query)
    return query


def choice(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}: {value!r}")
    return cast(str, value)


def text_field(value: object, field: str, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or value == "":
        raise bad(field, "must be a non-empty string")
    if len(value) > limit:
        raise bad(field, f"may hold at most {limit} characters")
    _check_string(value, field)
    return value


def _check_string(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad(field, "is not valid Unicode text (a lone surrogate)") from None
    if "\x00" in value:
        raise bad(field, "may not hold the NUL character")


def _series(obj: object, i: int) -> Series:
    field = f"series[{i}]"
    if not isinstance(obj, Mapping):
        raise bad(field, "must be an object {event, measure, property}")
    allowed = {"event", "measure", "property", "filters"}
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise bad(f"{field}.{unknown[0]}", f"is not a field of a series ({', '.join(sorted(allowed))})")
    event = obj.get("event")
    if event is not None:
        event = text_field(event, f"{field}.event")
    measure = obj.get("measure")
    if measure is None:
        measure = "events"
    elif measure not in MEASURES:
        raise bad(f"{field}.measure", f"must be one of {', '.join(MEASURES)}: {measure!r}")
    prop = obj.get("property")
    if measure in NUMERIC_MEASURES:
        prop = text_field(prop, f"{field}.property") if prop is not None else None
        if prop is None:
            raise bad(f"{field}.property", f"is required for measure {measure!r} (a numeric event property)")
    elif prop is not None:
        raise bad(f"{field}.property", f"is only read by the measures {', '.join(NUMERIC_MEASURES)}")
    filters = parse_filters(obj.get("filters"), f"{field}.filters")
    return Series(SERIES_NAMES[i], event, measure, prop, filters)


def parse_filters(value: object, field: str) -> tuple[Filter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad(field, "must be an array of {type, name, op, value}")
    if len(value) > MAX_FILTERS:
        raise bad(field, f"may hold at most {MAX_FILTERS} filters")
    return tuple(_filter(f, f"{field}[{i}]") for i, f in enumerate(value))


def _kind(obj: Mapping[str, Any], field: str) -> tuple[str, str]:
    """(type, name) of a filter or the breakdown, refused where this release cannot answer it."""
    kind = obj.get("type")
    if kind not in FILTER_TYPES:
        raise bad(f"{field}.type", f"must be one of {', '.join(FILTER_TYPES)}: {kind!r}")
    name = text_field(obj.get("name"), f"{field}.name")
    if kind == "cohort" and not ID_PATTERN.fullmatch(name):
        raise bad(f"{field}.name", f"is not a cohort id: {name!r} (see GET /api/v1/cohorts)")
    if kind == "derived" and name not in DERIVED:
        raise bad(f"{field}.name", f"is not a derived dimension: {name!r} (one of {', '.join(DERIVED)})")
    return cast(str, kind), name


def _filter(obj: object, field: str) -> Filter:
    if not isinstance(obj, Mapping):
        raise bad(field, "must be an object {type, name, op, value}")
    unknown = sorted(str(k) for k in obj if k not in ("type", "name", "op", "value"))
    if unknown:
        raise bad(f"{field}.{unknown[0]}", "is not a field of a filter (type, name, op, value)")
    kind, name = _kind(obj, field)
    op = obj.get("op")
    if kind == "cohort":
        return _cohort_filter(obj, field, name)
    if op not in OPS:
        raise bad(f"{field}.op", f"must be one of {', '.join(OPS)}: {op!r}")
    value = obj.get("value")
    where = f"{field}.value"
    if op == "exists":
        if value is not None and not isinstance(value, bool):
            raise bad(where, "must be true, false or absent for op 'exists'")
        return Filter(kind, name, "exists", value is not False)
    if "value" not in obj:
        raise bad(where, f"is required for op {op!r}")
    if op == "in":
        if not isinstance(value, list):
            raise bad(where, "must be an array for op 'in'")
        if len(value) > MAX_IN_VALUES:
            raise bad(where, f"may list at most {MAX_IN_VALUES} values")
        return Filter(kind, name, "in", tuple(_scalar(v, f"{where}[{i}]") for i, v in enumerate(value)))
    if op in ("gt", "lt"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad(where, f"must be a number for op {op!r}")
        return Filter(kind, name, cast(Op, op), _finite(value, where))
    if op == "contains":
        if value is None or isinstance(value, list | dict):
            raise bad(where, "must be a string (or a number or boolean an array may hold) for op 'contains'")
        if kind != "event" and not isinstance(value, str):
            raise bad(where, "must be a string for op 'contains' on a person trait or a derived dimension")
    return Filter(kind, name, cast(Op, op), _scalar(value, where))


def _cohort_filter(obj: Mapping[str, Any], field: str, name: str) -> Filter:
    """In the cohort (``eq`` true, the default) or not (``neq`` true, or ``eq`` false)."""
    op = obj.get("op", "eq")
    if op not in ("eq", "neq"):
        raise bad(f"{field}.op", f"must be 'eq' or 'neq' on a cohort (member or not): {op!r}")
    value = obj.get("value", True)
    if not isinstance(value, bool):
        raise bad(f"{field}.value", "must be true or false on a cohort (member or not)")
    return Filter("cohort", name, cast(Op, op), value)


def _finite(value: int | float, field: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise bad(field, f"is too large a number: {value!r}")
    return number


def _scalar(value: object, field: str) -> str | int | float | bool | None:
    """A value a filter compares with: a string, a number, a boolean or null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise bad(field, f"may hold at most {MAX_TEXT} characters")
        _check_string(value, field)
        return value
    if isinstance(value, int | float):
        number = _finite(value, field)
        return value if isinstance(value, int) else number
    raise bad(field, "must be a string, a number, a boolean or null (not an array or an object)")


def _breakdown(obj: object) -> Breakdown | None:
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise bad("breakdown", "must be an object {type, name}")
    unknown = sorted(str(k) for k in obj if k not in ("type", "name"))
    if unknown:
        raise bad(f"breakdown.{unknown[0]}", "is not a field of a breakdown (type, name)")
    kind, name = _kind(obj, "breakdown")
    return Breakdown(kind, name)


def _check_size(query: TrendRequest) -> None:
    buckets = len(bucket_starts(query.interval, query.rng.start, query.rng.end))
    values = query.limit + 2 if query.breakdown else 1  # the top values, $other and $none
    lines = len(query.series) + (1 if query.formula else 0)
    rows = buckets * values * lines * (2 if query.compare else 1)
    if rows > MAX_ROWS:
        raise bad(
            "interval",
            f"would make up to {rows:,} rows (the most is {MAX_ROWS:,}): use a longer interval,"
            " a shorter range, fewer series or a smaller limit",
        )


def cohort_refs(
    filters: Sequence[tuple[str, Sequence[Filter]]], breakdown: Breakdown | None = None
) -> dict[str, str]:
    """The cohorts a query names (id -> the first field naming it): ``filters`` pairs a field's
    name (``filters``, ``series[1].filters``) with its filters."""
    refs: dict[str, str] = {}
    for field, items in filters:
        for i, flt in enumerate(items):
            if flt.type == "cohort":
                refs.setdefault(flt.name, f"{field}[{i}].name")
    if breakdown is not None and breakdown.type == "cohort":
        refs.setdefault(breakdown.name, "breakdown.name")
    return refs


def trend_cohort_refs(query: TrendRequest) -> dict[str, str]:
    pairs = [
        ("filters", query.filters),
        *((f"series[{i}].filters", s.filters) for i, s in enumerate(query.series)),
    ]
    return cohort_refs(pairs, query.breakdown)
