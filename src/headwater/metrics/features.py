"""Feature usage (per tool_id and event) and preferences (a property or trait over users)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from headwater.lake.params import MetricError
from headwater.lake.scope import Scope
from headwater.lake.sql import json_key
from headwater.metrics.active import active_counts
from headwater.metrics.shapes import feature_rows

TREND_DAYS = 7


def features(scope: Scope) -> dict[str, Any]:
    """Per day, tool_id and event: events, unique users, share of MAU, and the trend of users against
    the same day a week before (users / users 7 days earlier - 1)."""
    rng = scope.rng
    rows = scope.sql(
        f"""
        SELECT day, tool_id, event, count(*) AS events, count(DISTINCT person) AS users
        FROM ({scope.events(rng.start - timedelta(days=TREND_DAYS), rng.end)})
        WHERE person IS NOT NULL GROUP BY ALL
        """
    )
    data = {(d, tool, ev): (int(n), int(u)) for d, tool, ev, n, u in rows}
    mau = active_counts(scope, 30)
    missing = scope.missing_days(rng.days())
    out = feature_rows(data, mau, missing, rng.start, TREND_DAYS)
    return {"rows": out, "missing_days": sorted(d.isoformat() for d in missing)}


def preferences(scope: Scope, property: str | None = None, trait: str | None = None) -> dict[str, Any]:
    """Users by the last value they had of a property (events in the range) or a trait (identify
    traits and context.traits, latest known by the range's end)."""
    if bool(property) == bool(trait):
        raise MetricError("bad_parameter", "give exactly one of the parameters 'property' or 'trait'")
    rng = scope.rng
    values = scope.trait_values(str(trait), rng.end) if trait else None
    if values is None:
        if property:
            value = f"properties->>{json_key(property)}"
            events = scope.events(rng.start, rng.end)
        else:
            name = json_key(str(trait))
            value = f"coalesce(traits->>{name}, context->'traits'->>{name})"
            events = scope.events(None, rng.end)
        values = f"SELECT person, ts, {value} AS v FROM ({events})"
    rows = scope.sql(
        f"""
        SELECT v, count(*) FROM (
            SELECT person, arg_max(v, ts) AS v FROM ({values})
            WHERE person IS NOT NULL AND v IS NOT NULL GROUP BY person
        ) GROUP BY v ORDER BY 2 DESC, 1
        """
    )
    total = sum(int(n) for _, n in rows)
    out = [
        {"date": rng.end.isoformat(), "value": v, "users": int(n), "share": round(int(n) / total, 6)}
        for v, n in rows
    ]
    return {"rows": out, "users": total, "property": property, "trait": trait}
