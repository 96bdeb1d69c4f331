"""The JSON body of ``POST /api/v1/insights/trend`` as msgspec types: the HTTP API decodes the body
with them and /openapi.json describes it from them. The meaning (which names, which values for which
op, the formula) is checked by request.py, for the CLI's queries too."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

_DAY = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"}, description="YYYY-MM-DD")]
_NAME = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class TrendFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A condition on an event property, a person trait or a derived dimension."""

    type: Literal["event", "person", "derived", "cohort"]
    name: _NAME
    op: Literal["eq", "neq", "in", "gt", "lt", "contains", "exists"]
    value: Any | msgspec.UnsetType = msgspec.UNSET


class TrendSeries(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One series: an event (null: any event) measured one way; its own filters besides the query's."""

    event: _NAME | None = None
    measure: Literal["events", "users", "sum", "avg", "p50", "p90"] = "events"
    property: _NAME | None = None
    filters: list[TrendFilter] = []


class TrendBreakdown(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: Literal["event", "person", "derived", "cohort"]
    name: _NAME


class TrendQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A trend: series over local days start..end per interval, filtered, broken down, compared."""

    start: _DAY
    end: _DAY
    tz: str | None = None
    interval: Literal["day", "week", "month", "range"] = "day"
    series: Annotated[list[TrendSeries], msgspec.Meta(min_length=1, max_length=26)]
    filters: list[TrendFilter] = []
    filter_match: Literal["all", "any"] = "all"
    breakdown: TrendBreakdown | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    formula: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    compare: bool = False
