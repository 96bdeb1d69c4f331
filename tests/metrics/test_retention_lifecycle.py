"""Retention and lifecycle on a hand-written set (UTC). 2026-06-01 is a Monday.

Activity: uE 05-20, 06-02; uA 06-01, 06-02, 06-04, 06-09; uB 06-01, 06-03; uC 06-02, 06-03;
uD 06-01; uF 06-09. uC first comes as anonymous c1 and identifies on 06-03 (merge after the fact).

Daily first-time cohorts, 06-01..06-04 ("on"):
  06-01 {uA, uB, uD}: k1 (06-02) uA = 1; k2 (06-03) uB = 1; k3 (06-04) uA = 1
  06-02 {uC} (uE's first day is 05-20): k1 uC = 1; k2 = 0
  06-03, 06-04: empty
  weighted averages: k1 (1 + 1) / (3 + 1) = 0.5; k2 (1 + 0) / 4 = 0.25; k3 1/3
"on or after": 06-01: k1 {uA, uB} = 2, k2 {uA, uB} = 2, k3 {uA} = 1; 06-02: k1 1, k2 0.
Recurring, "on": 06-02 {uA, uC, uE}: k1 (06-03) uC = 1, k2 (06-04) uA = 1; 06-03 {uB, uC}: k1 0.
Weekly 06-01..06-10: W0 (06-01) cohort {uA, uB, uC, uD} (uE started in May): k1 (W1) uA = 1,
  incomplete (W1 ends 06-14, after 06-10); W1 {uF}: k0 incomplete.
Lifecycle (day), 06-01..06-04:
  06-01 new uA uB uD = 3; 06-02 new uC, returning uA, resurrecting uE, dormant uB uD = 2;
  06-03 returning uC, resurrecting uB, dormant uA uE = 2; 06-04 resurrecting uA, dormant uB uC = 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev
from tests.metrics.dataset import build

ACTIVITY = {
    "uE": ["05-20", "06-02"],
    "uA": ["06-01", "06-02", "06-04", "06-09"],
    "uB": ["06-01", "06-03"],
    "uD": ["06-01"],
    "uF": ["06-09"],
}


def _events() -> list[dict[str, object]]:
    out = [ev(f"2026-{d}T09:00:00.000Z", user=u) for u, days in ACTIVITY.items() for d in days]
    out.append(ev("2026-06-02T09:00:00.000Z", anon="c1"))
    out.append(ev("2026-06-03T09:00:00.000Z", type="identify", user="uC", anon="c1"))
    return out


@pytest.fixture(scope="module", params=[0, 3, 9], ids=["log-only", "part-loaded", "loaded"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("retention")
    build(d, _events(), etl_days=request.param, project_tz="UTC")
    return d


def cohorts(out: dict[str, Any]) -> dict[str, list[int]]:
    return {r["date"]: [v["users"] for v in r["values"]] for r in out["rows"]}


def test_daily_first_on(data: Path) -> None:
    out = run_metric(data, "UTC", "retention", "2026-06-01", "2026-06-04", options={"period": "day"})
    assert cohorts(out) == {
        "2026-06-01": [3, 1, 1, 1],
        "2026-06-02": [1, 1, 0],
        "2026-06-03": [0, 0],
        "2026-06-04": [0],
    }
    avg = {a["period"]: a["rate"] for a in out["average"]}
    assert avg == {0: 1.0, 1: 0.5, 2: 0.25, 3: round(1 / 3, 6)}
    assert not any(v["incomplete"] for r in out["rows"] for v in r["values"])


def test_daily_on_or_after(data: Path) -> None:
    out = run_metric(data, "UTC", "retention", "2026-06-01", "2026-06-04", options={"mode": "on_or_after"})
    assert cohorts(out)["2026-06-01"] == [3, 2, 2, 1]
    assert cohorts(out)["2026-06-02"] == [1, 1, 0]


def test_recurring(data: Path) -> None:
    out = run_metric(data, "UTC", "retention", "2026-06-01", "2026-06-04", options={"cohort": "recurring"})
    assert cohorts(out) == {
        "2026-06-01": [3, 1, 1, 1],
        "2026-06-02": [3, 1, 1],
        "2026-06-03": [2, 0],
        "2026-06-04": [1],
    }


def test_weekly_incomplete(data: Path) -> None:
    out = run_metric(data, "UTC", "retention", "2026-06-01", "2026-06-10", options={"period": "week"})
    rows = {r["date"]: r for r in out["rows"]}
    w0 = rows["2026-06-01"]
    assert w0["cohort_size"] == 4
    assert [(v["users"], v["incomplete"]) for v in w0["values"]] == [(4, False), (1, True)]
    assert [(v["users"], v["incomplete"]) for v in rows["2026-06-08"]["values"]] == [(1, True)]
    assert out["average"] == [{"period": 0, "rate": 1.0, "users": 4, "cohort_users": 4, "cohorts": 1}]


def test_lifecycle(data: Path) -> None:
    out = run_metric(data, "UTC", "lifecycle", "2026-06-01", "2026-06-04")
    got = {r["date"]: (r["new"], r["returning"], r["resurrecting"], r["dormant"]) for r in out["rows"]}
    assert got == {
        "2026-06-01": (3, 0, 0, 0),
        "2026-06-02": (1, 1, 1, 2),
        "2026-06-03": (0, 1, 1, 2),
        "2026-06-04": (0, 0, 1, 2),
    }
