"""The trait rollup (each actor's latest value per day and key, written by the ETL) against reading
the events, on the same data, and on hand-counted cases."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log

PLANS = ["free", "pro", "team", None]


def _events(seed: int) -> list[dict[str, Any]]:
    """Three weeks: identifies with traits, track events carrying context.traits (sometimes a
    different value, a nested object, a non-object), anonymous visitors who identify later."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(900):
        day, v = rng.randrange(21), rng.randrange(40)
        stamp = f"2026-05-{1 + day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{n % 60:02d}.000Z"
        plan = PLANS[rng.randrange(4)]
        kind = rng.random()
        if kind < 0.15:
            traits: dict[str, Any] = {"plan": plan} if plan else {"seats": n % 5}
            if n % 7 == 0:
                traits["org"] = {"size": n % 3}
            out.append(ev(stamp, type="identify", user=f"u{v % 25}", anon=f"a{v}", traits=traits))
        elif kind < 0.6:
            ctx = {"plan": plan} if plan else ({"org": {"size": 1}} if n % 2 else None)
            out.append(ev(stamp, user=f"u{v % 25}", context_traits=ctx))
        else:
            out.append(ev(stamp, anon=f"a{v}", context_traits={"plan": "anon-" + str(plan)}))
    return out


def _prefs(data: Path, trait: str, end: str, tz: str | None = None) -> dict[str, Any]:
    return run_metric(data, "UTC", "preferences", "2026-05-01", end, tz, {"trait": trait})


@pytest.mark.parametrize("etl_days", [15, 21])
def test_rollup_answers_like_the_events(tmp_path: Path, etl_days: int) -> None:
    data = tmp_path / "data"
    days = write_log(data, _events(etl_days))
    for day in days[:etl_days]:
        run_daily(data, day, "UTC")
    old = tmp_path / "old"
    shutil.copytree(data, old)
    shutil.rmtree(old / "lake" / "traits")
    with Scope(data, make_range("2026-05-01", "2026-05-21", None, "UTC")) as scope:
        assert scope.trait_values("plan", None) is not None
    with Scope(old, make_range("2026-05-01", "2026-05-21", None, "UTC")) as scope:
        assert scope.trait_values("plan", None) is None
    for trait in ("plan", "seats", "org", "missing"):
        for end in ("2026-05-03", "2026-05-12", "2026-05-21"):
            fast, slow = _prefs(data, trait, end), _prefs(old, trait, end)
            assert fast == slow, (trait, end)
    assert _prefs(data, "plan", "2026-05-21")["users"] > 20
    # another time zone than the rollup's: the events are read
    with Scope(data, make_range("2026-05-01", "2026-05-21", "Europe/Paris", "UTC")) as scope:
        assert scope.trait_values("plan", None) is None
    assert _prefs(data, "plan", "2026-05-12", "Europe/Paris") == _prefs(
        old, "plan", "2026-05-12", "Europe/Paris"
    )


def test_hand_counted_latest_values(tmp_path: Path) -> None:
    events = [
        # loaded: v1 free (traits) then pro (context.traits, later the same day); v2 team
        ev("2026-05-01T08:00:00.000Z", type="identify", user="v1", anon="b1", traits={"plan": "free"}),
        ev("2026-05-01T09:00:00.000Z", user="v1", context_traits={"plan": "pro"}),
        ev("2026-05-01T10:00:00.000Z", type="identify", user="v2", traits={"plan": "team"}),
        # an event with both: traits wins over context.traits
        ev(
            "2026-05-02T10:00:00.000Z",
            type="identify",
            user="v3",
            traits={"plan": "pro"},
            context_traits={"plan": "x"},
        ),
        # a later event without the trait does not erase it
        ev("2026-05-02T11:00:00.000Z", user="v2", context_traits={"seats": 3}),
        # today's log: the anonymous b4 says free, then identifies as v2 (team before): v2 is now free
        ev("2026-05-03T09:00:00.000Z", anon="b4", context_traits={"plan": "free"}),
        ev("2026-05-03T09:30:00.000Z", type="identify", user="v2", anon="b4"),
    ]
    days = write_log(tmp_path, events)
    for day in days[:2]:
        run_daily(tmp_path, day, "UTC")
    with Scope(tmp_path, make_range("2026-05-01", "2026-05-03", None, "UTC")) as scope:
        assert scope.trait_values("plan", None) is not None
    rows = _prefs(tmp_path, "plan", "2026-05-03")["rows"]
    assert [(r["value"], r["users"]) for r in rows] == [("pro", 2), ("free", 1)]
    rows = _prefs(tmp_path, "plan", "2026-05-01")["rows"]
    assert [(r["value"], r["users"]) for r in rows] == [("pro", 1), ("team", 1)]
