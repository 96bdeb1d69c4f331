"""Generated trend queries over real data, valid and not: every one is answered, or refused with a
400 naming a field; none fails in the query (which the API would answer with a 500)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.insights.request import DERIVED, FILTER_TYPES, MEASURES
from headwater.insights.trend import run_trend
from headwater.lake.params import MetricError
from headwater.targeting.audiences import OPS

names = st.sampled_from(["plan", "duration_ms", "tags", "a.b", "$price", "ключ", "nope", *DERIVED]) | st.text(
    max_size=8
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
)
values = scalars | st.lists(scalars, max_size=3)
kinds = st.sampled_from([*FILTER_TYPES, "event", "event", "derived", "person"])  # cohort: refused
filters = st.fixed_dictionaries(
    {"type": kinds, "name": names, "op": st.sampled_from(OPS)},
    optional={"value": values},
)
events = st.sampled_from([None, "Tool Used", "Signed Up", "page"])
series = st.fixed_dictionaries(
    {"event": events, "measure": st.sampled_from(["events", "users"])},
    optional={"filters": st.lists(filters, max_size=2)},
) | st.fixed_dictionaries(
    {"event": events, "measure": st.sampled_from(MEASURES), "property": names},
    optional={"filters": st.lists(filters, max_size=2)},
)
bodies = st.fixed_dictionaries(
    {
        "start": st.sampled_from(["2026-03-24", "2026-03-29", "2026-04-01", "2026-04-03"]),
        "end": st.sampled_from(["2026-04-01", "2026-04-03"]),
        "series": st.lists(series, min_size=1, max_size=3),
    },
    optional={
        "tz": st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "America/St_Johns"]),
        "interval": st.sampled_from(["day", "week", "month", "range"]),
        "filters": st.lists(filters, max_size=3),
        "filter_match": st.sampled_from(["all", "any"]),
        "breakdown": st.fixed_dictionaries({"type": kinds, "name": names}),
        "limit": st.integers(1, 100),
        "formula": st.sampled_from(["A / B", "A - 1 / (B - B)", "-(A * 2)", "C", "A"]),
        "compare": st.booleans(),
    },
)


def test_generated_queries_are_answered_or_refused_naming_a_field(
    lake: tuple[Path, list[dict[str, Any]]],
) -> None:
    data, _ = lake
    outcomes = {"answered": 0, "refused": 0}

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def check(body: dict[str, Any]) -> None:
        try:
            out = run_trend(data, "UTC", body)
        except MetricError as exc:
            assert exc.status == 400 and "'" in exc.message, (body, exc.code, exc.message)
            outcomes["refused"] += 1
            return
        assert out["insight"] == "trend"
        outcomes["answered"] += 1

    check()
    assert outcomes["answered"] >= 25 and outcomes["refused"] >= 25, outcomes
