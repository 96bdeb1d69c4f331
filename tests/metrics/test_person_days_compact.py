"""The compact person-day rollup (dense integer ids, written by the ETL) against the paths it replaces,
on the same data: every activity metric must give the same answer with and without it."""

from __future__ import annotations

import random
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from headwater.batch.etl import run_daily
from headwater.lake.layout import Lake
from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from headwater.metrics.active import active_counts
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log
from tests.metrics.dataset import PARIS, active_events, build

METRICS: list[tuple[str, dict[str, str]]] = [
    ("dau", {}),
    ("wau", {}),
    ("mau", {}),
    ("stickiness", {}),
    ("lifecycle", {"period": "day"}),
    ("lifecycle", {"period": "week"}),
    ("lifecycle", {"period": "month"}),
    ("retention", {"period": "day"}),
    ("retention", {"period": "week", "mode": "on_or_after"}),
    ("retention", {"period": "month", "cohort": "recurring"}),
    ("retention", {"period": "week", "start_event": "Signup"}),
]


def _random_events(seed: int) -> list[dict[str, Any]]:
    """Six weeks of 60 visitors: most identify (some as an existing user, some by alias), a few
    late events, duplicates, and a last week that stays in the log (today's data)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(1200):
        day = rng.randrange(42)
        v = rng.randrange(60)
        ts = f"2026-02-{1 + day:02d}" if day < 28 else f"2026-03-{day - 27:02d}"
        stamp = f"{ts}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000Z"
        kind = rng.random()
        if kind < 0.05:
            out.append(ev(stamp, type="identify", user=f"u{v % 40}", anon=f"a{v}"))
        elif kind < 0.07:
            out.append(ev(stamp, type="alias", user=f"u{v % 40}", previous=f"u{(v + 7) % 40}"))
        elif kind < 0.5:
            out.append(ev(stamp, anon=f"a{v}", event="Signup" if n % 9 == 0 else "Clicked"))
        else:
            out.append(ev(stamp, user=f"u{v % 40}", anon=f"a{v}", mid=f"m-{n % 1100}"))
    return out


def _answers(data: Path, end: str) -> list[dict[str, Any]]:
    return [run_metric(data, PARIS, name, "2026-02-02", end, None, opts) for name, opts in METRICS]


def _without_compact(data: Path, copy: Path) -> Path:
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "lake" / "person_days")
    return copy


@pytest.mark.parametrize("etl_days", [35, 42])
def test_metrics_agree_with_the_rollup_they_replace(tmp_path: Path, etl_days: int) -> None:
    data = tmp_path / "data"
    days = write_log(data, _random_events(etl_days))
    for day in days[:etl_days]:
        run_daily(data, day, PARIS)
    old = _without_compact(data, tmp_path / "old")
    with Scope(data, make_range("2026-02-02", "2026-03-14", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is not None  # the compact path is the one tested
    with Scope(old, make_range("2026-02-02", "2026-03-14", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is None
    fast, slow = _answers(data, "2026-03-14"), _answers(old, "2026-03-14")
    assert fast == slow
    assert any(r["value"] for r in fast[0]["rows"])


def test_hand_counted_people_with_todays_log(tmp_path: Path) -> None:
    # Loaded: 03-27 .. 03-28 received days; 03-29 and 03-30 stay in the log. In Paris time: 03-27 has
    # anon:a5, anon:a6, u7, u8, u9 and (late, received 03-29 from the log) u10; 03-28 has u1; 03-29
    # has u2 and u3; 03-30 has u4 and the identify of a5 as u5 (today's log), which makes 03-27's
    # anon:a5 the same person as u5.
    build(tmp_path, active_events(), etl_days=2)
    rng = make_range("2026-03-27", "2026-03-30", None, PARIS)
    with Scope(tmp_path, rng) as scope:
        assert scope.person_day_arrays(None, None) is not None
        dau = active_counts(scope, 1)
        wau = active_counts(scope, 7)
    assert [dau[date(2026, 3, d)] for d in (27, 28, 29, 30)] == [6, 1, 2, 2]
    # 03-27..03-30: a5=u5, a6, u7, u8, u9, u10, u1, u2, u3, u4 -> 10 people
    assert wau[date(2026, 3, 30)] == 10


def test_dense_ids_stay_put_and_old_lakes_are_backfilled(tmp_path: Path) -> None:
    days = write_log(tmp_path, active_events())
    lake = Lake(tmp_path / "lake")
    for day in days[:2]:
        run_daily(tmp_path, day, PARIS)
    # a lake from before the compact rollup: the next ETL run writes what is missing
    shutil.rmtree(lake.person_days_dir)
    with Scope(tmp_path, make_range("2026-03-27", "2026-03-30", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is None
    for day in days[2:]:
        run_daily(tmp_path, day, PARIS)
    run_daily(tmp_path, days[0], PARIS)  # a re-run renumbers nothing
    ids = dict(zip(*pq.read_table(lake.actors_file).to_pydict().values(), strict=True))
    assert sorted(ids) == list(range(len(ids)))  # dense
    assert len(set(ids.values())) == len(ids)
    assert {lake.person_days_file(d).name for d in days} == {
        p.name for p in lake.person_days_dir.glob("*.parquet")
    }
    run_daily(tmp_path, days[1], PARIS)
    again = dict(zip(*pq.read_table(lake.actors_file).to_pydict().values(), strict=True))
    assert again == ids
    with Scope(tmp_path, make_range("2026-03-27", "2026-03-30", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is not None
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10


def test_ids_written_before_are_kept_by_later_runs(tmp_path: Path) -> None:
    days = write_log(tmp_path, active_events())
    lake = Lake(tmp_path / "lake")
    run_daily(tmp_path, days[0], PARIS)
    before = dict(zip(*pq.read_table(lake.actors_file).to_pydict().values(), strict=True))
    for day in days[1:]:
        run_daily(tmp_path, day, PARIS)
    after = dict(zip(*pq.read_table(lake.actors_file).to_pydict().values(), strict=True))
    assert {k: after[k] for k in before} == before
    assert len(after) > len(before)


def test_a_stale_compact_file_is_not_used(tmp_path: Path) -> None:
    build(tmp_path, active_events(), etl_days=4)
    lake = Lake(tmp_path / "lake")
    source = lake.user_days_file(date(2026, 3, 28))
    source.write_bytes(source.read_bytes())  # rewritten after its compact file
    with Scope(tmp_path, make_range("2026-03-27", "2026-03-30", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is None
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10


def test_lost_ids_rewrite_every_compact_file(tmp_path: Path) -> None:
    days = write_log(tmp_path, active_events())
    lake = Lake(tmp_path / "lake")
    for day in days[:3]:
        run_daily(tmp_path, day, PARIS)
    lake.actors_file.unlink()  # the ids of the files written so far are gone
    run_daily(tmp_path, days[3], PARIS)
    with Scope(tmp_path, make_range("2026-03-27", "2026-03-30", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is not None
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10
        assert [active_counts(scope, 1)[date(2026, 3, d)] for d in (27, 28, 29, 30)] == [6, 1, 2, 2]


def test_ids_added_while_a_query_reads_fall_back(tmp_path: Path) -> None:
    # as if the scope had read the ids file just before an ETL run added names that the compact
    # files it then reads already use: the query falls back instead of failing or mixing people
    build(tmp_path, active_events(), etl_days=4)
    lake = Lake(tmp_path / "lake")
    table = pq.read_table(lake.actors_file)
    pq.write_table(table.slice(0, table.num_rows // 2), lake.actors_file)
    with Scope(tmp_path, make_range("2026-03-27", "2026-03-30", None, PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is None
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10
        assert [active_counts(scope, 1)[date(2026, 3, d)] for d in (27, 28, 29, 30)] == [6, 1, 2, 2]
