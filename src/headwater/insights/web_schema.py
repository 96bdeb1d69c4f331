"""The JSON body of ``POST /api/v1/insights/web`` as a msgspec type: the HTTP API decodes the body
with it and /openapi.json describes it from it. The meaning (names, ops, values, the range) is
checked by web_request.py, for the CLI's queries too."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from headwater.insights.schema import TrendFilter
from headwater.insights.web_request import WebList

_DAY = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"}, description="YYYY-MM-DD")]


class WebQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Web analytics (Plausible's view) over local days start..end, filtered, compared."""

    start: _DAY
    end: _DAY
    tz: str | None = None
    filters: list[TrendFilter] = []
    filter_match: Literal["all", "any"] = "all"
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    compare: bool = False
    #: the lists to answer (default: all); [] for the summary alone
    lists: list[WebList] | None = None
