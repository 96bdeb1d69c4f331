"""DAU / WAU / MAU / stickiness on the hand-written set of tests/metrics/dataset.py.

Hand computation, Europe/Paris days (UTC bounds):
- 03-27 (03-26T23:00Z..03-27T23:00Z): u5 (was anon a5), anon:a6, u7, u8, u9, u10 (late) = 6;
  the anonymousId "0" event has no usable id and is nobody.
- 03-28 (..03-28T23:00Z): u1 (its duplicate is dropped) = 1
- 03-29, 23 hours (..03-29T22:00Z): u2 (00:30 local), u3 (23:30 local) = 2
- 03-30: u4 (00:30 local), u5 = 2
- 03-26: no log and no events -> missing, not zero.
UTC days: 03-27 = 6, 03-28 = u1 + u2 = 2, 03-29 = u3 + u4 = 2, 03-30 = u5 = 1.
WAU and MAU on 03-30: u5, a6, u7, u8, u9, u10, u1, u2, u3, u4 = 10 (u5 once, in both zones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.metrics.registry import run_metric
from tests.metrics.dataset import PARIS, active_events, build


@pytest.fixture(scope="module", params=[0, 2, 4], ids=["log-only", "half-loaded", "all-loaded"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("active")
    build(d, active_events(), etl_days=request.param)
    return d


def values(result: dict[str, object], key: str = "value") -> dict[str, object]:
    rows = result["rows"]
    assert isinstance(rows, list)
    return {r["date"]: r[key] for r in rows}


def test_dau_paris_dst_day(data: Path) -> None:
    out = run_metric(data, PARIS, "dau", "2026-03-26", "2026-03-30")
    assert out["metric"] == "dau" and out["tz"] == PARIS
    assert values(out) == {
        "2026-03-26": None,
        "2026-03-27": 6,
        "2026-03-28": 1,
        "2026-03-29": 2,
        "2026-03-30": 2,
    }
    assert values(out, "missing")["2026-03-26"] is True
    assert values(out, "missing")["2026-03-29"] is False


def test_dau_utc(data: Path) -> None:
    out = run_metric(data, PARIS, "dau", "2026-03-27", "2026-03-30", tz="UTC")
    assert values(out) == {"2026-03-27": 6, "2026-03-28": 2, "2026-03-29": 2, "2026-03-30": 1}


def test_wau_mau(data: Path) -> None:
    # WAU Paris: 03-27: 6; 03-28: +u1 = 7; 03-29: +u2,u3 = 9; 03-30: +u4 (u5 already in) = 10
    wau = run_metric(data, PARIS, "wau", "2026-03-27", "2026-03-30")
    assert values(wau) == {"2026-03-27": 6, "2026-03-28": 7, "2026-03-29": 9, "2026-03-30": 10}
    mau = run_metric(data, PARIS, "mau", "2026-03-30", "2026-03-30")
    assert values(mau) == {"2026-03-30": 10}
    # 04-02 has no data at all: missing (null), and its window 03-27..04-02 misses three days.
    later = run_metric(data, PARIS, "wau", "2026-04-02", "2026-04-02")
    assert values(later) == {"2026-04-02": None}
    assert later["rows"][0]["missing_days_in_window"] == 3  # 03-31, 04-01, 04-02


def test_stickiness(data: Path) -> None:
    out = run_metric(data, PARIS, "stickiness", "2026-03-27", "2026-03-30")
    # DAU/MAU: 6/6, 1/7, 2/9, 2/10
    assert values(out, "dau") == {"2026-03-27": 6, "2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 2}
    assert values(out, "mau") == {"2026-03-27": 6, "2026-03-28": 7, "2026-03-29": 9, "2026-03-30": 10}
    assert values(out) == {
        "2026-03-27": 1.0,
        "2026-03-28": round(1 / 7, 6),
        "2026-03-29": round(2 / 9, 6),
        "2026-03-30": 0.2,
    }
    # u5 active on 03-27 and 03-30 (2 days), the 9 others on one day
    assert out["active_days"] == [{"days": 1, "users": 9}, {"days": 2, "users": 1}]


def test_empty_range(data: Path) -> None:
    out = run_metric(data, PARIS, "dau", "2025-01-01", "2025-01-02")
    assert [r["value"] for r in out["rows"]] == [None, None]
    assert all(r["missing"] for r in out["rows"])
