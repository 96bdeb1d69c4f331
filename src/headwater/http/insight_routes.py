"""The insights' lines of the route table (http/routes.py): trends (docs/insights.md)."""

from __future__ import annotations

from headwater.http.api import insights
from headwater.http.endpoint import Route
from headwater.insights.schema import TrendQuery

INSIGHT_ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/insights/trend",
        ("POST",),
        insights.trend,
        writes="read",  # a query sent as a POST body: a reader's credential is enough
        body=TrendQuery,
        statuses=(400, 408, 413, 500),
        max_body=insights.MAX_BODY_BYTES,
    ),
)
