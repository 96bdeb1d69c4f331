"""Erasing a person from the lake (issue 17), on a lake built by the real ETL from a log, with the
real DuckDB: nothing of theirs is left in any Parquet file, everyone else's metrics are those of a
lake that never had them, a run killed midway is finished by the next one, and the ETL goes on.

Two lakes are built from one log: A (everyone) and B (the log without any line carrying one of
the person's ids). Erasing the person from A must give B's metrics exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.experiments.lake_query import ExperimentData
from headwater.experiments.model import Experiment, Metric, MetricKind
from headwater.lake.erase import (
    PAUSE_ENV,
    erase_from_lake,
    forget_cached_answers,
    linked_ids,
    person_events,
    person_rollup_rows,
)
from headwater.lake.layout import Lake
from headwater.lake.params import Range
from headwater.lake.scope import Scope
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log

PARIS = "Europe/Paris"
MARK = "erasee"  # in every id and trait of the person, and in nobody else's
P_USER, P_ANON, P_OLD = "erasee-user-q7", "erasee-anon-k2", "erasee-old-m1"
P_IDS = {P_USER, P_ANON, P_OLD}
START, END = "2026-02-09", "2026-03-06"
NEW_DAY = date(2026, 3, 5)
METRICS: list[tuple[str, dict[str, str]]] = [
    ("dau", {}),
    ("wau", {}),
    ("mau", {}),
    ("stickiness", {}),
    ("sessions", {}),
    ("features", {}),
    ("retention", {}),
    ("retention", {"period": "week", "mode": "on_or_after"}),
    ("lifecycle", {}),
    ("funnel", {"steps": "Signed Up,Purchased"}),
    ("preferences", {"trait": "plan"}),
    ("late_events", {}),
]


def exposure(ts: str, user: str, variation: str) -> dict[str, Any]:
    props = {"experiment_id": "exp-erase", "variation_id": variation}
    return ev(ts, user=user, event="Experiment Viewed", props=props)


def all_events() -> list[dict[str, Any]]:
    """The person: anonymous first (February, archived), identified on 02-11 with traits, then
    under an old user id aliased on 03-03; a session across midnight with a late event received the
    next day (two UTC dates in one received day); tools, a funnel, an experiment. Others: ann
    (identified too), bob (a junk anonymousId), cat (aliased as well), a visitor never identified."""
    return [
        ev("2026-02-10T09:00:00.000Z", anon="a-ann", event="Signed Up", tool="onboarding"),
        ev("2026-02-10T10:00:00.000Z", anon=P_ANON, event="Signed Up", tool="onboarding"),
        ev("2026-02-10T10:20:00.000Z", anon=P_ANON, tool="editor"),
        ev("2026-02-10T10:25:00.000Z", anon=P_ANON, type="page"),  # a visit (the visit rollup)
        ev("2026-02-10T11:00:00.000Z", user="u-bob", anon="null", tool="editor"),
        ev("2026-02-10T12:00:00.000Z", anon="a-visitor", type="page"),
        ev(
            "2026-02-11T08:00:00.000Z",
            type="identify",
            user=P_USER,
            anon=P_ANON,
            traits={"email": "erasee@example.com", "plan": "pro"},
        ),
        ev("2026-02-11T08:05:00.000Z", user=P_USER, event="Purchased", tool="billing"),
        ev("2026-02-11T09:00:00.000Z", type="identify", user="u-ann", anon="a-ann", traits={"plan": "free"}),
        ev("2026-02-11T09:30:00.000Z", user="u-ann", event="Purchased", tool="billing"),
        ev("2026-02-11T13:00:00.000Z", user="u-bob", tool="editor"),
        ev("2026-03-02T10:00:00.000Z", user=P_OLD, tool="editor"),
        ev("2026-03-02T10:05:00.000Z", user="u-cat-old", tool="editor"),
        exposure("2026-03-02T11:00:00.000Z", P_USER, "1"),
        exposure("2026-03-02T11:00:00.000Z", "u-ann", "1"),
        exposure("2026-03-02T11:30:00.000Z", "u-bob", "0"),
        exposure("2026-03-02T11:40:00.000Z", "u-cat", "0"),
        ev("2026-03-02T23:50:00.000Z", user=P_USER, tool="editor"),
        ev("2026-03-02T23:55:00.000Z", user=P_USER, tool="editor", received="2026-03-03T00:10:00.000Z"),
        ev("2026-03-03T00:20:00.000Z", user=P_USER, tool="editor"),
        ev("2026-03-03T09:00:00.000Z", type="alias", user=P_USER, previous=P_OLD),
        ev("2026-03-03T09:10:00.000Z", type="alias", user="u-cat", previous="u-cat-old"),
        ev("2026-03-03T10:00:00.000Z", user="u-ann", tool="editor", context_traits={"plan": "team"}),
        ev(
            "2026-03-03T11:00:00.000Z",
            user=P_USER,
            event="Purchased",
            tool="billing",
            context_traits={"plan": "pro"},
        ),
        ev("2026-03-03T12:00:00.000Z", user="u-bob", anon="a-bob", tool="editor"),
        ev("2026-03-03T13:00:00.000Z", user="u-bob", event="Purchased", tool="billing"),
        ev("2026-03-04T09:00:00.000Z", user=P_USER, anon=P_ANON, tool="editor"),
        ev("2026-03-04T10:00:00.000Z", user="u-cat", tool="editor"),
        ev("2026-03-04T11:00:00.000Z", anon="a-visitor", type="page"),
        ev("2026-03-04T12:00:00.000Z", user="u-ann", event="Purchased", tool="billing"),
    ]


EVENTS = all_events()  # made once: the message ids are made by ev()


def new_day_events() -> list[dict[str, Any]]:
    """A day received after the erase: others, and the visitor identifying."""
    return [
        ev(
            "2026-03-05T08:00:00.000Z",
            type="identify",
            user="u-vis",
            anon="a-visitor",
            traits={"plan": "pro"},
        ),
        ev("2026-03-05T09:00:00.000Z", user="u-ann", tool="editor"),
        ev("2026-03-05T10:00:00.000Z", user="u-dan", anon="a-dan", event="Signed Up", tool="onboarding"),
    ]


def is_persons(event: dict[str, Any]) -> bool:
    return bool({event.get("userId"), event.get("anonymousId"), event.get("previousId")} & P_IDS)


def build(data: Path, events: list[dict[str, Any]]) -> None:
    for day in write_log(data, events):
        run_daily(data, day, PARIS)
    archive_month(data, 2026, 2)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(A: everyone, B: without the person), built once; tests work on copies."""
    root = tmp_path_factory.mktemp("erase")
    build(root / "a", EVENTS)
    build(root / "b", [e for e in EVENTS if not is_persons(e)])
    return root / "a", root / "b"


def copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def metrics(data: Path) -> list[Any]:
    out: list[Any] = [run_metric(data, PARIS, name, START, END, options=opts) for name, opts in METRICS]
    exp = Experiment(key="exp-erase", variations=(0, 1))
    purchase = Metric("purchase", MetricKind.CONVERSION, "Purchased")
    with ExperimentData(data, PARIS, exp, [purchase], since=date(2026, 2, 1)) as xd:
        out.append((xd.load(), xd.sums([purchase])))
    return out


def parquet_files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*.parquet") if ".tmp" not in p.relative_to(lake).parts)


def contents(lake: Path) -> dict[str, Any]:
    """Every Parquet file's rows (sorted) by path, and the identity status file."""
    out: dict[str, Any] = {
        str(p.relative_to(lake)): sorted(
            map(repr, duckdb.sql(f"SELECT * FROM read_parquet('{p}', hive_partitioning = false)").fetchall())
        )
        for p in parquet_files(lake)
    }
    out["identity/names.json"] = json.loads((lake / "identity" / "names.json").read_text())
    return out


def aids_of_person(lake: Path) -> set[int]:
    rows = duckdb.sql(
        f"SELECT aid FROM '{lake / 'identity' / 'actors.parquet'}' WHERE name LIKE '%{MARK}%'"
    ).fetchall()
    return {int(r[0]) for r in rows}


def hashes_of_person() -> set[int]:
    names = sorted(P_IDS | {f"anon:{i}" for i in P_IDS})
    return {int(r[0]) for r in duckdb.sql(f"SELECT hash(unnest({names}))").fetchall()}


def leftovers(lake: Path, aids: set[int]) -> list[str]:
    """Every place a Parquet file of the lake still holds the person: a text column (JSON included)
    containing the mark, or an aid / actor hash column holding one of theirs. actors.parquet keeps
    its aid column by design (dense ids; the name is a tombstone)."""
    hashes = hashes_of_person()
    found = []
    for path in parquet_files(lake):
        source = f"read_parquet('{path}', hive_partitioning = false)"
        for name, kind, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall():
            if kind in ("VARCHAR", "JSON"):
                cond = f"contains(CAST(\"{name}\" AS VARCHAR), '{MARK}')"
            elif name in ("aid", "pid") and path.name != "actors.parquet" and aids:
                cond = f'"{name}" IN ({", ".join(map(str, sorted(aids)))})'
            elif name == "actor_hash":
                cond = f'"{name}" IN ({", ".join(f"{h}::UBIGINT" for h in sorted(hashes))})'
            else:
                continue
            if duckdb.sql(f"SELECT count(*) FROM {source} WHERE {cond}").fetchall()[0][0]:
                found.append(f"{path.relative_to(lake)}:{name}")
    return found


def file_states(lake: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(lake)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in lake.rglob("*")
        if p.is_file() and ".tmp" not in p.relative_to(lake).parts
    }


@pytest.mark.parametrize("chunk_rows", [None, 1])  # the tool usage of all dates at once, or date by date
def test_erase_leaves_nothing_and_the_others_metrics(
    lakes: tuple[Path, Path], tmp_path: Path, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chunk_rows is not None:
        import headwater.lake.erase

        monkeypatch.setattr(headwater.lake.erase, "TOOL_USAGE_CHUNK_ROWS", chunk_rows)
    data = copy(lakes[0], tmp_path / "a")
    lake = Lake(data / "lake")
    assert linked_ids(lake, [P_USER]) == P_IDS  # the anonymous id and the old id come from the map
    held = leftovers(lake.root, set())
    assert held and aids_of_person(lake.root)  # the lake holds them
    assert any(place.startswith("visits/") for place in held), held
    aids = aids_of_person(lake.root)

    exported = list(person_events(lake, [P_ANON]))
    assert len(exported) == sum(is_persons(e) for e in EVENTS)
    assert {e["message_id"] for e in exported} == {e["messageId"] for e in EVENTS if is_persons(e)}
    assert (
        exported[0]["ts"] == "2026-02-10T10:00:00Z" and exported[0]["properties"]["tool_id"] == "onboarding"
    )
    rollups = person_rollup_rows(lake, [P_USER])
    assert {r["value"] for r in rollups["traits"] if r["key"] == "email"} == {"erasee@example.com"}
    assert rollups["sessions"] and rollups["user_days"]
    assert [(r["entry"], r["pageviews"]) for r in rollups["visits"]] == [(None, 1)]  # a page without a path

    before = metrics(data)
    seen: list[tuple[int, int]] = []
    report = erase_from_lake(lake, [P_USER], progress=lambda done, total: seen.append((done, total)))

    assert leftovers(lake.root, aids) == []
    assert MARK not in (lake.root / "identity" / "names.json").read_text()
    assert report.files_rewritten > 10 and report.rows_removed > 20
    assert report.files_rewritten <= report.files_scanned
    assert report.event_dates == ["2026-02-10", "2026-02-11", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert seen[-1] == (report.files_rewritten, report.files_rewritten)
    assert list(person_events(lake, [P_USER])) == []
    assert all(rows == [] for rows in person_rollup_rows(lake, [P_USER]).values())
    assert not list(lake.root.rglob("*.erase.tmp"))

    after = metrics(data)
    assert after == metrics(lakes[1])  # everyone else's numbers, as if the person had never been
    dau_before = {r["date"]: r["value"] for r in before[0]["rows"]}
    dau_after = {r["date"]: r["value"] for r in after[0]["rows"]}
    person_days = {"2026-02-10", "2026-02-11", "2026-03-02", "2026-03-03", "2026-03-04"}  # Paris days
    assert {d for d in dau_before if dau_before[d] != dau_after[d]} == person_days
    assert all(dau_before[d] - dau_after[d] == 1 for d in person_days)
    assert before[-1] != after[-1]  # the experiment lost a converted user of variation 1

    # The rollups stay usable by the fast paths (their files still look as fresh as the user days).
    with Scope(data, Range(date(2026, 2, 9), date(2026, 3, 6), PARIS)) as scope:
        assert scope.person_day_arrays(None, None) is not None
        assert scope.session_runs(None, None) is not None
        assert scope.step_events(None, None, ["Signed Up", "Purchased"]) is not None
        assert scope.trait_values("plan", None) is not None

    # tool_usage_stats of the person's dates was recomputed: its counts are B's
    for day in report.event_dates:
        rel = f"tool_usage_stats/date={day}.parquet"
        assert contents(lake.root)[rel] == contents(lakes[1] / "lake")[rel]

    again = erase_from_lake(lake, [P_USER, P_ANON])
    assert (again.files_rewritten, again.rows_removed, again.event_dates) == (0, 0, [])


def test_unknown_and_junk_ids_rewrite_nothing(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    data = copy(lakes[0], tmp_path / "a")
    lake = Lake(data / "lake")
    states = file_states(lake.root)
    report = erase_from_lake(lake, ["nobody-at-all", "null", "anonymous", "0", ""])
    assert (report.files_rewritten, report.rows_removed) == (0, 0)
    assert report.files_scanned > 20
    assert file_states(lake.root) == states
    assert linked_ids(lake, ["null", "undefined"]) == set()


def test_a_killed_run_is_finished_by_the_next(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    straight = copy(lakes[0], tmp_path / "straight")
    erase_from_lake(Lake(straight / "lake"), [P_USER])
    data = copy(lakes[0], tmp_path / "killed")
    lake = Lake(data / "lake")
    script = (
        "import sys\nfrom pathlib import Path\nfrom headwater.lake.erase import erase_from_lake\n"
        "from headwater.lake.layout import Lake\n"
        "erase_from_lake(Lake(Path(sys.argv[1])), sys.argv[2:],"
        " progress=lambda d, t: print(d, t, flush=True))\n"
    )
    env = {**os.environ, PAUSE_ENV: "0.3"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(lake.root), P_USER], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        for text in proc.stdout:
            done, total = map(int, text.split())
            if done >= 8:
                break
        assert 8 <= done < total
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    # Killed: every file is whole (old or new), readable, the metrics run.
    for path in parquet_files(lake.root):
        duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()
    assert leftovers(lake.root, set())  # not done yet
    run_metric(data, PARIS, "dau", START, END)
    # Temporaries left by a kill during a write (made here: the hook pauses between swaps), and by
    # a killed ETL (they may hold the person's rows too).
    strays = [
        lake.user_days_dir / ".recv=20260303.parquet.erase.tmp",
        lake.traits_dir / ".recv=20260303.parquet.tmp",
        lake.tmp_dir / "etl-20260303-99999" / "events-20260303.t.jsonl.0-100.jsonl",
    ]
    for stray in strays:
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"PAR1 half a file " + MARK.encode())

    report = erase_from_lake(lake, [P_USER])
    assert report.files_rewritten > 0
    assert not any(p.exists() for p in strays) and not strays[2].parent.exists()
    assert not list(lake.root.rglob("*.erase.tmp"))
    assert contents(lake.root) == contents(straight / "lake")
    assert metrics(data) == metrics(lakes[1])
    assert erase_from_lake(lake, [P_USER]).files_rewritten == 0
    assert json.loads((lake.manifest_dir / "erased.json").read_text())["state"] == "done"


def test_the_etl_goes_on_after_an_erase(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    data = copy(lakes[0], tmp_path / "a")
    other = copy(lakes[1], tmp_path / "b")
    lake = Lake(data / "lake")
    erase_from_lake(lake, [P_ANON])
    extra = new_day_events()
    for target in (data, other):
        write_log(target, extra)
        run_daily(target, NEW_DAY, PARIS)
    assert leftovers(lake.root, set()) == []
    assert metrics(data) == metrics(other)
    dau = run_metric(data, PARIS, "dau", "2026-03-05", "2026-03-05")
    assert [r["value"] for r in dau["rows"]] == [3]  # the visitor (now u-vis), ann, dan
    # The identity files agree: names unique but for the tombstones, map_ids is the map on aids.
    actors = f"'{lake.actors_file}'"
    names = duckdb.sql(
        f"SELECT name, count(*) FROM {actors} WHERE name <> '' GROUP BY name HAVING count(*) > 1"
    )
    assert names.fetchall() == []
    mismatch = duckdb.sql(
        f"""SELECT count(*) FROM '{lake.identity_map}' m
            JOIN {actors} k ON k.name = m.key JOIN {actors} u ON u.name = m.user_id
            FULL JOIN '{lake.map_ids_file}' i ON i.aid = k.aid AND i.pid = u.aid
            WHERE (i.aid IS NULL AND k.aid <> u.aid) OR k.aid IS NULL"""
    ).fetchall()
    assert mismatch == [(0,)]


def test_cached_answers_are_invalidated(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    from headwater.dashboard.metric_batch import MetricCache

    data = copy(lakes[0], tmp_path / "a")
    cache = MetricCache(data, PARIS)
    signature = cache.signature()
    stored = data / "run" / "dashboard-cache"
    stored.mkdir(parents=True)
    (stored / "metric-0123.json").write_text("{}")
    erase_from_lake(Lake(data / "lake"), [P_USER])
    assert cache.signature() != signature  # no cached answer of before is fresh any more
    assert forget_cached_answers(data) == 1 and not stored.exists()
    assert MARK not in (data / "lake" / "_etl" / "erased.json").read_text()
