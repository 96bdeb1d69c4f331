"""Paths walked over the ETL's (event, actor_hash, ts, tie) rollup (insights/paths_walk.py): the
same people, steps and answer as the walk over the events, or no answer (the events are read) when
two events of a person share an instant without both ties."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headwater.batch.etl import run_daily
from headwater.insights import paths_walk
from headwater.insights.paths import PEOPLE_TABLE, people_sql, run_paths
from headwater.insights.paths_request import parse_paths
from headwater.lake.layout import Lake
from headwater.lake.scope import Scope
from headwater.lake.upgrade import upgrade_lake
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.insights.test_paths import CASES, WHOLE, build, by_hand

UNFILTERED = [k for k, v in CASES.items() if not v.get("filters") and v.get("kind", "events") == "events"]
#: filters the walk applies (person traits: the same for all of a person's events), as the truth table
#: has them and more
PEOPLE_FILTERED = {
    **{
        k: v
        for k, v in CASES.items()
        if v.get("filters") and all(f["type"] == "person" for f in v["filters"])
    },
    "person-any-session": {
        "event": "Tool Used",
        "session_scoped": True,
        "filters": [
            {"type": "person", "name": "plan", "op": "eq", "value": "free"},
            {"type": "person", "name": "plan", "op": "exists", "value": False},
        ],
        "filter_match": "any",
    },
    "person-neq-previous": {
        "event": "Exported",
        "direction": "previous",
        "filters": [{"type": "person", "name": "plan", "op": "neq", "value": "pro"}],
    },
}


def _people(scope: Scope, body: dict[str, Any], walked: bool) -> tuple[bool, list[tuple[Any, ...]]]:
    """(whether the walk answered, people_sql's rows by the walk or by the events)."""
    query = parse_paths(body, "UTC")
    if walked:
        if not paths_walk.walk_people(scope, query, PEOPLE_TABLE):
            return False, []
    else:
        scope.sql(f"CREATE OR REPLACE TEMP TABLE {PEOPLE_TABLE} AS {people_sql(scope, query)}")
    # people are hashes or names (as the zone allows): the steps of each, in any order, compared
    return True, sorted((tuple(row[1:]) for row in scope.sql(f"SELECT * FROM {PEOPLE_TABLE}")), key=repr)


def _same(data: Path, body: dict[str, Any]) -> bool:
    """Whether the walk answered; when it did, its people are the events' walk's."""
    query = parse_paths(body, "UTC")
    with Scope(data, query.rng) as scope:
        answered, walked = _people(scope, body, True)
    with Scope(data, query.rng) as scope:
        _, read = _people(scope, body, False)
    if answered:
        assert walked == read, body
        assert read, f"{body}: a case that finds nobody tests little"
    return answered


@pytest.fixture(params=["horizon", "in-one"], autouse=True)
def walk_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: the walk of a big lake (a horizon first, then the rest) and of a small one
    (one walk over every event of the anchored people), whatever the test lake's size."""
    if request.param == "horizon":
        monkeypatch.setattr(paths_walk, "WALK_IN_ONE_BELOW", 0)
    else:
        monkeypatch.setattr(paths_walk, "WALK_IN_ONE_BELOW", 1 << 62)
    return str(request.param)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    return build(tmp_path_factory.mktemp("walk") / "data")


@pytest.mark.parametrize("case", UNFILTERED)
def test_the_walk_finds_the_people_the_events_walk_finds(
    log: tuple[Path, list[dict[str, Any]]], case: str
) -> None:
    data, lines = log
    body = {**WHOLE, **CASES[case]}
    # the log's ties (two events of a person at one instant, one received day) have their message
    # ids in the rollup: the walk answers every case
    assert _same(data, body), case
    got = run_paths(data, "UTC", body)
    want = by_hand(lines, body)
    assert (got["anchor"], got["steps"]) == (want["anchor"], want["steps"])


@pytest.mark.parametrize("case", list(PEOPLE_FILTERED))
def test_trait_filters_are_walked_as_the_events_walk_them(
    log: tuple[Path, list[dict[str, Any]]], case: str
) -> None:
    """A person's trait is the same on all their events: the people it drops have no anchor."""
    data, lines = log
    body = {**WHOLE, **PEOPLE_FILTERED[case]}
    assert _same(data, body), case
    _run(data, lines, body)
    # a filter on an event property, even beside them: read from the events
    event_filter = {"type": "event", "name": "plan", "op": "exists", "value": True}
    assert not _same(data, {**body, "filters": [*body["filters"], event_filter]})


def _run(data: Path, lines: list[dict[str, Any]], body: dict[str, Any]) -> None:
    got = run_paths(data, "UTC", body)
    want = by_hand(lines, body)
    assert (got["anchor"], got["steps"]) == (want["anchor"], want["steps"]), body


def _lake(tmp_path: Path, lines: list[dict[str, Any]], days: list[date]) -> Path:
    data = tmp_path / "data"
    write_log(data, lines)
    for day in days:
        run_daily(data, day, "UTC")
    return data


BODY = {"start": "2026-03-24", "end": "2026-03-27", "event": "Anchor", "steps": 5}


def test_long_runs_of_one_event_are_walked_past_the_horizon(tmp_path: Path) -> None:
    """A person whose first new names come after more events than the horizon holds (a day of one
    event repeated, after and before the anchor's day) is walked again over every event; the answer
    is the same, forwards, backwards and in a session."""
    lines = []
    for p in range(3):
        user = f"runner-{p}"
        lines.append(ev("2026-03-25T10:00:00.000Z", user=user, event="Anchor"))
        for i in range(60 + 7 * p):  # a second apart: one session
            clock = f"{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            lines.append(ev(f"2026-03-26T{clock}.000Z", user=user, event="Repeat"))
            lines.append(ev(f"2026-03-24T{clock}.000Z", user=user, event="Before"))
        for k, name in enumerate(["Two", "Three", "Four", "Five", "Six"]):
            lines.append(ev(f"2026-03-26T11:{10 + k:02d}:00.000Z", user=user, event=name))
            lines.append(ev(f"2026-03-23T11:{10 + k:02d}:00.000Z", user=user, event=name))
    lines.append(ev("2026-03-25T10:00:00.000Z", user="short", event="Anchor"))
    lines.append(ev("2026-03-25T10:05:00.000Z", user="short", event="Two"))
    data = _lake(tmp_path, lines, [date(2026, 3, 23) + timedelta(days=i) for i in range(4)])
    assert paths_walk.HORIZON_EVENTS * 7 < 60  # a day of repeats is past the horizon
    for extra in ({}, {"direction": "previous"}, {"session_scoped": True}, {"exclude": ["Two"]}):
        body = {**BODY, "start": "2026-03-23", **extra}
        assert _same(data, body), extra
        _run(data, lines, body)


def test_two_events_at_one_instant_received_on_two_days_are_read_from_the_events(tmp_path: Path) -> None:
    """The rollup has no order for them (each day's file knows its own instants only), the events
    have (their message ids), and answer."""
    lines = [
        ev("2026-03-25T10:00:00.000Z", user="u-a", event="Anchor"),
        ev("2026-03-25T10:01:00.000Z", user="u-a", event="Later", mid="m-b"),
        {
            **ev("2026-03-25T10:01:00.000Z", user="u-a", event="Sooner", mid="m-a"),
            "receivedAt": "2026-03-26T08:00:00.000Z",
        },
    ]
    data = _lake(tmp_path / "days", lines, [date(2026, 3, 25), date(2026, 3, 26)])
    assert not _same(data, BODY)
    _run(data, lines, BODY)
    assert run_paths(data, "UTC", BODY)["steps"][0]["nodes"][0]["event"] == "Sooner"


@pytest.mark.parametrize("who", ["one id", "two ids of one person"])
def test_two_events_at_one_instant_of_one_day_are_ordered_by_their_ties(tmp_path: Path, who: str) -> None:
    """Under one id, or under two ids one person has (the day's instants are shared by anyone's
    events, so the ties are there whoever the ids turn out to be): the walk answers, in message id
    order."""
    first, second = ("u-c", "u-c") if who == "one id" else ("anon-c", "u-c")
    lines = [
        ev("2026-03-25T10:00:00.000Z", user=first, event="Anchor"),
        ev("2026-03-25T10:01:00.000Z", user=first, event="Later", mid="m-b"),
        ev("2026-03-25T10:01:00.000Z", user=second, event="Sooner", mid="m-a"),
    ]
    if first != second:
        lines[0:2] = [
            ev(e["timestamp"], anon=first, event=e["event"], mid=e["messageId"]) for e in lines[0:2]
        ]
        lines.append(ev("2026-03-25T10:02:00.000Z", user=second, anon=first, type="identify"))
    data = _lake(tmp_path, lines, [date(2026, 3, 25)])
    assert _same(data, BODY)
    _run(data, lines, BODY)
    assert run_paths(data, "UTC", BODY)["steps"][0]["nodes"][0]["event"] == "Sooner"


def _untie(data: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Rewrite every event_people file without ``tie`` (as an earlier version wrote it), its
    modification time kept; each file's rows (with ties) before."""
    con = duckdb.connect()
    before = {}
    for path in sorted((data / "lake" / "event_people").glob("recv=*.parquet")):
        stamp = path.stat().st_mtime_ns
        before[path.name] = sorted(con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall(), key=repr)
        con.execute(
            f"COPY (SELECT event, actor_hash, ts FROM read_parquet('{path}')) TO '{path}.x' (FORMAT parquet)"
        )
        Path(f"{path}.x").replace(path)
        os.utime(path, ns=(stamp, stamp))
    con.close()
    return before


def test_a_rollup_written_before_the_ties_is_walked_until_two_events_share_an_instant(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Files without ``tie`` (loaded by an earlier version): the walk answers while no person has
    two events at one instant in the range, and leaves it to the events when one has; ``headwater
    etl upgrade`` writes them again with their ties, as the ETL does."""
    source, lines = log
    data = tmp_path / "data"
    shutil.copytree(source, data)
    written = _untie(data)
    tied = {**WHOLE, "event": "Tie Anchor"}  # u-tie's two steps at one instant
    assert not _same(data, tied)
    _run(data, lines, tied)
    plain = {**WHOLE, "event": "TZ Anchor"}
    assert _same(data, plain)
    _run(data, lines, plain)

    lake = Lake(data / "lake")
    assert upgrade_lake(lake, dry_run=True).rollups_rewritten == len(written)
    shown = cli(data, "etl", "upgrade", "--dry-run").stdout
    assert f"would write again the paths rollup of {len(written)} received days" in shown, shown
    assert upgrade_lake(lake).rollups_rewritten == len(written)
    con = duckdb.connect()
    for path in sorted(lake.event_people_dir.glob("recv=*.parquet")):
        assert (
            sorted(con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall(), key=repr)
            == written[path.name]
        )
    con.close()
    assert _same(data, tied)  # the walk answers again
    _run(data, lines, tied)
    assert cli(data, "etl", "upgrade").stdout.startswith("Nothing to upgrade")
