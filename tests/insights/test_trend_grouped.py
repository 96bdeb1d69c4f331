"""The one-pass grouping of a trend the rollup answers (insights/trend_grouped.py)
against the count by hand, and its ways back to the two reads of the rows: too many groups times
people for the bits, and a person without a number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import headwater.insights.trend as trend_module
from headwater.lake.scope import NUMBERS, Scope
from tests.insights.reference import expected
from tests.insights.test_trend_truth import CASES, END, START, TOOL, _close

#: cases broken down by a dimension of the rollup or not at all, over the zone the lake was loaded in
GROUPED = [
    "geo-ops",
    "person-eq",
    "formula-percent",
    "compare",
    "country-by-region",
    "breakdown-country",
    "breakdown-browser",
    "breakdown-os",
    "breakdown-device",
    "breakdown-referrer",
    "breakdown-utm",
    "formula",
]
MORE = {
    # the previous period's groups, several series (events apart from users), $other and $none
    "compare-derived": {
        "series": [TOOL, {"event": None, "measure": "events"}, {"event": "Signed Up", "measure": "users"}],
        "breakdown": {"type": "derived", "name": "browser"},
        "compare": True,
        "interval": "week",
        "limit": 1,
    },
    # a person's trait filters the rows: people keep their hash beside their number
    "trait-filtered": {
        "series": [TOOL],
        "filters": [{"type": "person", "name": "plan", "op": "eq", "value": "pro"}],
        "breakdown": {"type": "derived", "name": "os"},
    },
    "events-only": {
        "series": [{"event": None, "measure": "events"}],
        "breakdown": {"type": "derived", "name": "browser"},
        "limit": 2,
    },
}


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The answers of grouped_counts (None: it handed back) as trend.py gets them."""
    seen: list[Any] = []
    real = trend_module.grouped_counts

    def spy(*args: Any) -> Any:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(trend_module, "grouped_counts", spy)
    return seen


def _body(case: str) -> dict[str, Any]:
    return {"start": START, "end": END, **(CASES.get(case) or MORE[case])}


@pytest.mark.parametrize("case", [*GROUPED, *MORE])
def test_one_pass_answers_as_the_hand(
    lake: tuple[Path, list[dict[str, Any]]], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, lines = lake
    seen = _spy(monkeypatch)
    body = _body(case)
    got = trend_module.run_trend(data, "UTC", body)
    assert seen and seen[-1] is not None  # the one pass answered
    want = expected(lines, body)
    _close(got["rows"], want["rows"])
    assert got["breakdown_values"] == want["breakdown_values"]
    assert any(r["value"] for r in got["rows"])


@pytest.mark.parametrize("case", ["compare-derived", "breakdown-country"])
def test_too_many_bits_read_the_rows_twice(
    lake: tuple[Path, list[dict[str, Any]]], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, lines = lake
    seen = _spy(monkeypatch)
    monkeypatch.setattr(trend_module, "BITS_LIMIT", 0)
    body = _body(case)
    got = trend_module.run_trend(data, "UTC", body)
    assert not seen  # unique users over the limit: not grouped
    _close(got["rows"], expected(lines, body)["rows"])
    events = _body("events-only")
    got = trend_module.run_trend(data, "UTC", events)
    assert seen and seen[-1] is not None  # no bits: grouped whatever the limit
    _close(got["rows"], expected(lines, events)["rows"])


def test_a_person_without_a_number_reads_the_rows_twice(
    lake: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were an actor of the dimension rows missing from the numbers (the user-day rollup it is
    drawn from lacking them), the one pass would not count them: it hands back instead."""
    data, lines = lake
    seen = _spy(monkeypatch)
    real = Scope.number_people

    def short(self: Scope, first: Any, last: Any) -> int:
        n = real(self, first, last)
        self.sql(f"DELETE FROM {NUMBERS} WHERE n = 0")
        return n

    monkeypatch.setattr(Scope, "number_people", short)
    body = _body("compare-derived")
    got = trend_module.run_trend(data, "UTC", body)
    assert seen == [None]
    _close(got["rows"], expected(lines, body)["rows"])
