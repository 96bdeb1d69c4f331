"""A web analytics query, checked: the model web.py reads, made from the JSON of
``POST /api/v1/insights/web`` (or the CLI's options turned into the same JSON).

The fields it shares with a trend (``start``, ``end``, ``tz``, ``filters``, ``filter_match``,
``limit``, ``compare``) mean the same and are checked by the trend's own parser (request.py), so a
filter is refused here exactly when a trend would refuse it, with the same message naming the
field (``filters[1].op``). Every refusal is a MetricError (400)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from headwater.insights.request import Filter, TrendRequest, bad, parse_trend
from headwater.lake.params import MetricError, Range

FIELDS = ("start", "end", "tz", "filters", "filter_match", "limit", "compare", "lists")
#: a list of the answer (web_sql.VISIT_LISTS, and the pages)
WebList = Literal[
    "pages",
    "entry_pages",
    "exit_pages",
    "sources",
    "utm_sources",
    "utm_mediums",
    "utm_campaigns",
    "devices",
    "browsers",
    "os",
    "countries",
    "regions",
]
#: the lists of an answer, in its order
LISTS: tuple[str, ...] = get_args(WebList)


@dataclass(frozen=True, slots=True)
class WebRequest:
    #: the same query as a trend of page events over the range: what the filters' SQL is made from
    trend: TrendRequest
    #: the lists to answer (LISTS' names, in LISTS' order): all by default, none for the summary alone
    lists: tuple[str, ...] = LISTS

    @property
    def rng(self) -> Range:
        return self.trend.rng

    @property
    def filters(self) -> tuple[Filter, ...]:
        return self.trend.filters

    @property
    def filter_match(self) -> str:
        return self.trend.filter_match

    @property
    def limit(self) -> int:
        return self.trend.limit

    @property
    def compare(self) -> bool:
        return self.trend.compare

    @property
    def previous(self) -> tuple[date, date]:
        """The period before the range, of the same number of days."""
        return self.trend.previous


def parse_web(body: object, project_tz: str) -> WebRequest:
    """The checked web query of a JSON object (see docs/insights.md), or a MetricError."""
    if not isinstance(body, Mapping):
        raise MetricError("bad_body", "the body must be a JSON object (see docs/insights.md)")
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:
        raise bad(unknown[0], f"is not a field of a web query (fields: {', '.join(sorted(FIELDS))})")
    as_trend: dict[str, Any] = {k: body[k] for k in FIELDS if k in body and k != "lists"}
    as_trend["interval"] = "range"
    as_trend["series"] = [{"event": None, "measure": "events"}]
    return WebRequest(parse_trend(as_trend, project_tz), _lists(body.get("lists")))


def _lists(value: object) -> tuple[str, ...]:
    """The lists asked for (``lists``: absent or null for all of them, ``[]`` for the summary
    alone), in the answer's order."""
    if value is None:
        return LISTS
    if not isinstance(value, list):
        raise bad(
            "lists", f"must be a list of list names (of {', '.join(LISTS)}), or [] for the summary alone"
        )
    for i, name in enumerate(value):
        if name not in LISTS:
            raise bad(f"lists[{i}]", f"is not a list of the answer: {name!r} (lists: {', '.join(LISTS)})")
    return tuple(name for name in LISTS if name in value)
