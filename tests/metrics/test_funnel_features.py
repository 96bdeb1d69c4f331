"""Funnel, features and preferences on hand-written sets (UTC).

Funnel Signup -> Activate -> Purchase, window 14 days, range 07-01..07-05:
- f1: Signup 07-01, Activate 07-02, Purchase 07-03                       -> 3 steps
- f2: Signup 07-01, Purchase 07-02, Activate 07-03 (purchase before)      -> 2
- f3: Signup 07-02, Activate 07-20 (18 days later)                        -> 1
- f4: Signup 07-04 10:00 (plan b) and 07-05 10:00 (plan a), Activate 07-18 12:00,
      Purchase 07-19 09:00: too late from 07-04 (ends 07-18 10:00), in time from 07-05 -> 3
- f5: anonymous x5 signs up 07-01, identifies as f5, Activates 07-02      -> 2
- f6: Activate only: never enters.
Steps: 5, 4 (f1 f2 f4 f5), 2 (f1 f4). Breakdown by the plan of the first Signup:
  a: f1 f2 -> 2, 2, 1; b: f3 f4 -> 2, 1, 1; none: f5 -> 1, 1, 0.

Features 08-08: Clicked/editor by u1 and u3 (2 events, 2 users), Exported/export by u3 (1, 1);
MAU(08-08) (07-10..08-08) = u1, u2, u3 and the funnel's f3 (07-20) and f4 (07-19) = 5;
a week before (08-01) Clicked/editor had 2 users, Exported/export 1:
trend 0 for both. Preferences: trait plan, latest by 08-08: u1 free then pro (pro), u2 free,
u3 pro (context.traits): pro 2, free 1. Property theme in 08-08..08-08: u1 light, u3 dark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev
from tests.metrics.dataset import build


def _funnel_events() -> list[dict[str, object]]:
    return [
        ev("2026-07-01T10:00:00.000Z", user="f1", event="Signup", props={"plan": "a"}),
        ev("2026-07-02T10:00:00.000Z", user="f1", event="Activate"),
        ev("2026-07-03T10:00:00.000Z", user="f1", event="Purchase"),
        ev("2026-07-01T10:00:00.000Z", user="f2", event="Signup", props={"plan": "a"}),
        ev("2026-07-02T10:00:00.000Z", user="f2", event="Purchase"),
        ev("2026-07-03T10:00:00.000Z", user="f2", event="Activate"),
        ev("2026-07-02T10:00:00.000Z", user="f3", event="Signup", props={"plan": "b"}),
        ev("2026-07-20T10:00:00.000Z", user="f3", event="Activate"),
        ev("2026-07-04T10:00:00.000Z", user="f4", event="Signup", props={"plan": "b"}),
        ev("2026-07-05T10:00:00.000Z", user="f4", event="Signup", props={"plan": "a"}),
        ev("2026-07-18T12:00:00.000Z", user="f4", event="Activate"),
        ev("2026-07-19T09:00:00.000Z", user="f4", event="Purchase"),
        ev("2026-07-01T10:00:00.000Z", anon="x5", event="Signup"),
        ev("2026-07-01T10:05:00.000Z", type="identify", user="f5", anon="x5"),
        ev("2026-07-02T10:00:00.000Z", user="f5", event="Activate"),
        ev("2026-07-02T10:00:00.000Z", user="f6", event="Activate"),
    ]


def _feature_events() -> list[dict[str, object]]:
    return [
        ev("2026-08-01T09:00:00.000Z", user="u1", tool="editor", props={"theme": "dark"}),
        ev("2026-08-01T09:01:00.000Z", user="u1", tool="editor", props={"theme": "dark"}),
        ev("2026-08-01T09:00:00.000Z", user="u2", tool="editor"),
        ev("2026-08-01T09:05:00.000Z", user="u2", event="Exported", tool="export"),
        ev("2026-08-01T08:00:00.000Z", type="identify", user="u1", traits={"plan": "free"}),
        ev("2026-08-01T08:00:00.000Z", type="identify", user="u2", traits={"plan": "free"}),
        ev("2026-08-05T08:00:00.000Z", type="identify", user="u1", traits={"plan": "pro"}),
        ev("2026-08-08T09:00:00.000Z", user="u1", tool="editor", props={"theme": "light"}),
        ev(
            "2026-08-08T09:00:00.000Z",
            user="u3",
            tool="editor",
            props={"theme": "dark"},
            context_traits={"plan": "pro"},
        ),
        ev("2026-08-08T09:02:00.000Z", user="u3", event="Exported", tool="export"),
    ]


@pytest.fixture(scope="module", params=[0, 99], ids=["log-only", "loaded"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("funnel")
    build(d, _funnel_events() + _feature_events(), etl_days=request.param, project_tz="UTC")
    return d


STEPS = {"steps": "Signup,Activate,Purchase"}


def test_funnel(data: Path) -> None:
    out = run_metric(data, "UTC", "funnel", "2026-07-01", "2026-07-05", options=STEPS)
    assert [(r["event"], r["users"]) for r in out["rows"]] == [
        ("Signup", 5),
        ("Activate", 4),
        ("Purchase", 2),
    ]
    assert [r["conversion"] for r in out["rows"]] == [1.0, 0.8, 0.4]
    assert [r["from_previous"] for r in out["rows"]] == [1.0, 0.8, 0.5]
    assert out["window_days"] == 14


def test_funnel_breakdown(data: Path) -> None:
    out = run_metric(
        data, "UTC", "funnel", "2026-07-01", "2026-07-05", options={**STEPS, "breakdown": "plan"}
    )
    got: dict[Any, list[int]] = {}
    for r in out["rows"]:
        got.setdefault(r["breakdown"], []).append(r["users"])
    assert got == {"a": [2, 2, 1], "b": [2, 1, 1], None: [1, 1, 0]}


def test_funnel_short_window(data: Path) -> None:
    # 1 day: f1 (Activate exactly 24 h later: within), f5 -> step 2; Purchase 48 h after f1's start: out
    out = run_metric(data, "UTC", "funnel", "2026-07-01", "2026-07-05", options={**STEPS, "window_days": "1"})
    assert [r["users"] for r in out["rows"]] == [5, 2, 0]


def test_features(data: Path) -> None:
    out = run_metric(data, "UTC", "features", "2026-08-08", "2026-08-08")
    got = {
        (r["tool_id"], r["event"]): (r["events"], r["users"], r["share_of_mau"], r["trend"])
        for r in out["rows"]
    }
    assert got == {
        ("editor", "Clicked"): (2, 2, 0.4, 0.0),
        ("export", "Exported"): (1, 1, 0.2, 0.0),
    }


def test_preferences(data: Path) -> None:
    out = run_metric(data, "UTC", "preferences", "2026-08-08", "2026-08-08", options={"trait": "plan"})
    assert [(r["value"], r["users"]) for r in out["rows"]] == [("pro", 2), ("free", 1)]
    out = run_metric(data, "UTC", "preferences", "2026-08-08", "2026-08-08", options={"property": "theme"})
    assert sorted((r["value"], r["users"]) for r in out["rows"]) == [("dark", 1), ("light", 1)]
