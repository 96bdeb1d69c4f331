"""The funnel's two ways to the same answer: binary searches over integer keys (numpy) and ASOF joins
in SQL, on random data full of ties (events in the same second, steps at the very same time) and
restarts, with and without breakdown; plus hand-computed cases for the key arithmetic."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from headwater.metrics import funnel
from tests.batch.logdata import ev
from tests.metrics.dataset import build

STEPS = ["Signup", "Activate", "Purchase", "Invite"]


def _random_events(seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(600):
        user = f"p{rnd.randrange(40)}"
        day = 1 + rnd.randrange(28)
        hour = rnd.choice([9, 10, 10, 23])  # many events in the same hour ...
        minute = rnd.choice([0, 0, 30])  # ... and at the same second
        event = rnd.choice([*STEPS, "Other", "Signup"])
        anon = f"a{user}" if rnd.random() < 0.2 else None
        who = {"anon": anon} if anon and i % 2 else {"user": user}
        ts = f"2026-07-{day:02d}T{hour:02d}:{minute:02d}:00.000Z"
        out.append(ev(ts, event=event, props={"plan": rnd.choice(["a", "b", None])}, **who))  # type: ignore[arg-type]
    for user in [f"p{k}" for k in range(0, 40, 3)]:
        out.append(ev("2026-07-02T08:00:00.000Z", type="identify", user=user, anon=f"a{user}"))
    return out


@pytest.fixture(scope="module", params=[(1, 0), (2, 99), (3, 99)], ids=["log-only", "loaded", "loaded-2"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed, etl_days = request.param
    d = tmp_path_factory.mktemp("funnel-paths")
    build(d, _random_events(seed), etl_days=etl_days, project_tz="UTC")
    return d


@pytest.mark.parametrize("window", [1, 3, 14])
@pytest.mark.parametrize("steps", [STEPS[:2], STEPS[:3], STEPS, ["Purchase", "Signup", "Activate"]])
@pytest.mark.parametrize("breakdown", [None, "plan"])
def test_numpy_equals_asof(data: Path, window: int, steps: list[str], breakdown: str | None) -> None:
    rng = make_range("2026-07-03", "2026-07-20", "UTC", "UTC")
    with Scope(data, rng) as scope:
        fast = sorted(funnel._reach_counts(scope, steps, window, breakdown), key=str)
        slow = sorted(funnel._reach_counts_sql(scope, steps, window, breakdown), key=str)
    assert fast == slow
    assert sum(n for _, _, n in fast) > 0


def test_hand_computed_ties_and_restarts(tmp_path: Path) -> None:
    """q1: Signup and Activate at the same instant (counts: at or after), Purchase one second before
    the 2-day window closes -> 3. q2: Signup 07-03, Activate 07-06 (too late for window 2), Signup
    again 07-05 -> the later start reaches 2. q3: Activate before Signup only -> 1. q4: Signup
    before the range, Activate in it -> not in the funnel."""
    events = [
        ev("2026-07-03T10:00:00.000Z", user="q1", event="Signup", props={"plan": "a"}),
        ev("2026-07-03T10:00:00.000Z", user="q1", event="Activate"),
        ev("2026-07-05T09:59:59.000Z", user="q1", event="Purchase"),
        ev("2026-07-03T10:00:00.000Z", user="q2", event="Signup", props={"plan": "b"}),
        ev("2026-07-05T10:00:00.000Z", user="q2", event="Signup", props={"plan": "a"}),
        ev("2026-07-06T10:00:00.000Z", user="q2", event="Activate"),
        ev("2026-07-03T09:00:00.000Z", user="q3", event="Activate"),
        ev("2026-07-03T10:00:00.000Z", user="q3", event="Signup"),
        ev("2026-07-02T10:00:00.000Z", user="q4", event="Signup"),
        ev("2026-07-03T10:00:00.000Z", user="q4", event="Activate"),
    ]
    build(tmp_path, events, etl_days=99, project_tz="UTC")
    rng = make_range("2026-07-03", "2026-07-06", "UTC", "UTC")
    with Scope(tmp_path, rng) as scope:
        got = funnel._reach_counts(scope, ["Signup", "Activate", "Purchase"], 2, "plan")
        plain = funnel._reach_counts(scope, ["Signup", "Activate", "Purchase"], 2, None)
    assert sorted(got, key=str) == sorted([("a", 3, 1), ("b", 2, 1), (None, 1, 1)], key=str)
    assert sorted(plain) == [(None, 1, 1), (None, 2, 1), (None, 3, 1)]


@pytest.mark.parametrize("etl_days", [10, 99], ids=["part-loaded", "loaded"])
def test_step_event_rollup_is_read_and_agrees_with_the_events(tmp_path: Path, etl_days: int) -> None:
    """The funnel reads the ETL's (event, actor_hash, ts) rollup (plus today's log) when the lake has
    it for every loaded day, and the answer is the one the event files give without it."""
    build(tmp_path, _random_events(7), etl_days=etl_days, project_tz="UTC")
    rng = make_range("2026-07-03", "2026-07-20", "UTC", "UTC")
    answers = []
    for rollup in (True, False):
        if not rollup:
            for path in (tmp_path / "lake" / "event_people").glob("*.parquet"):
                path.unlink()
        with Scope(tmp_path, rng) as scope:
            assert (scope.step_events(rng.start, rng.end, STEPS) is not None) == rollup
            answers.append(
                [sorted(funnel._reach_counts(scope, s, w, None)) for s in (STEPS[:3], STEPS) for w in (1, 14)]
            )
    assert answers[0] == answers[1]
    assert all(sum(n for _, _, n in a) > 0 for a in answers[0])
