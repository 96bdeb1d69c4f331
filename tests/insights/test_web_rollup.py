"""Web analytics from the visit rollup (insights/web_rollup.py, lake/rollups/visits.py): the answer
the page events give, on every request the rollup answers, and the events read where it cannot say
(a visit of 24 hours or more, filters; ties at a visit's first or last instant are looked up in
them alone, by messageId); the rollup kept
by the ETL's backfill and a page view retention."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.insights.web import run_web
from headwater.insights.web_request import parse_web
from headwater.insights.web_rollup import build_from_rollup
from headwater.lake.scope import Scope
from headwater.privacy.retention import apply_privacy_retention
from tests.batch.logdata import write_log
from tests.insights.test_web import BODIES, CHROME, LISTS, build, expected_web, page, random_log

#: the requests without filters (the rollup answers them), and more spans and zones
UNFILTERED = [b for b in BODIES if "filters" not in b] + [
    {"start": "2026-03-28", "end": "2026-03-28", "limit": 1},
    {"start": "2026-03-31", "end": "2026-04-01", "tz": "Pacific/Kiritimati", "compare": True},
    {"start": "2026-03-20", "end": "2026-04-05", "tz": "America/Los_Angeles"},
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, Any]]]:
    """The random log of test_web loaded, and a copy of it without the visit rollup."""
    data = tmp_path_factory.mktemp("web-rollup") / "data"
    lines = random_log()
    build(data, lines)
    events_only = data.parent / "events-only"
    shutil.copytree(data, events_only)
    shutil.rmtree(events_only / "lake" / "visits")
    return data, events_only, lines


def reads_rollup(data: Path, body: dict[str, Any]) -> bool:
    query = parse_web(body, "UTC")
    with Scope(data, query.rng) as scope:
        return build_from_rollup(scope, query, ["entry"], True) is not None


@pytest.mark.parametrize("body", UNFILTERED, ids=[str(i) for i in range(len(UNFILTERED))])
def test_the_rollup_answers_what_the_events_answer(
    generated: tuple[Path, Path, list[dict[str, Any]]], body: dict[str, Any]
) -> None:
    data, events_only, lines = generated
    assert reads_rollup(data, body)
    assert not reads_rollup(events_only, body)  # a loaded day without the rollup: the events
    got, want = run_web(data, "UTC", body), run_web(events_only, "UTC", body)
    assert got == want
    truth = expected_web(lines, body)
    assert got["summary"] == truth["summary"] and got["summary"]["visits"] > 0
    assert all(got[name] == truth[name] for name in ["pages", *LISTS])
    alone = run_web(data, "UTC", {**body, "lists": []})  # the runs sorted by DuckDB, no list read
    assert alone["summary"] == truth["summary"] and alone.get("previous") == got.get("previous")


def test_filters_read_the_events(generated: tuple[Path, Path, list[dict[str, Any]]]) -> None:
    data, _, lines = generated
    body = next(b for b in BODIES if "filters" in b)
    assert not reads_rollup(data, body)
    assert run_web(data, "UTC", body)["summary"] == expected_web(lines, body)["summary"]


def _loaded(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    data = tmp_path / "data"
    for day in write_log(data, lines):
        run_daily(data, day, "UTC")
    return data


DAY = {"start": "2026-03-10", "end": "2026-03-10"}


EVERY_VIEW = {**DAY, "filters": [{"type": "derived", "name": "path", "op": "exists"}]}  # reads the events


def _ends(out: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    return (
        [r["value"] for r in out["entry_pages"]],
        [r["value"] for r in out["exit_pages"]],
        [r["value"] for r in out["sources"]],
    )


@pytest.mark.parametrize("flip", [False, True])
def test_ties_at_a_visits_first_and_last_instants_go_by_message_id(tmp_path: Path, flip: bool) -> None:
    """Two page views at a visit's first instant and two at its last: the entry is the first by
    messageId, the exit the last, the source the entry's; the rollup's reader and the events' agree
    (the ties looked up at those instants alone), whichever order the lines came in."""
    views = [
        page("2026-03-10T09:00:00.000Z", "/b", CHROME, "https://www.google.com/", user="tie", mid="m-2"),
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, user="tie", mid="m-1"),
        page("2026-03-10T09:05:00.000Z", "/d", CHROME, user="tie", mid="m-4"),
        page("2026-03-10T09:05:00.000Z", "/c", CHROME, user="tie", mid="m-3"),
        page("2026-03-10T10:00:00.000Z", "/a", CHROME, user="other", mid="m-5"),
    ]
    data = _loaded(tmp_path, [views[i] for i in ((1, 0, 3, 2, 4) if flip else range(5))])
    assert reads_rollup(data, DAY)
    rolled, events = run_web(data, "UTC", DAY), run_web(data, "UTC", EVERY_VIEW)
    assert rolled["summary"]["visits"] == 2 and rolled["summary"]["pageviews"] == 5
    assert _ends(rolled) == (["/a"], ["/d", "/a"], ["Direct / None"])  # by page views at a tie
    assert _ends(events) == _ends(rolled) and events["summary"] == rolled["summary"]


def test_ties_on_days_apart_are_each_looked_up(tmp_path: Path) -> None:
    """Tied instants two days apart: the lookup reads the days of the instants (not the days
    between), and finds both; each visit's entry is its first page view by messageId."""
    views = [
        page("2026-03-10T09:00:00.000Z", "/b", CHROME, user="tie", mid="m-2"),
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, user="tie", mid="m-1"),
        page("2026-03-11T12:00:00.000Z", "/x", CHROME, user="tie", mid="m-9"),
        page("2026-03-12T09:00:00.000Z", "/d", CHROME, user="tie", mid="m-4"),
        page("2026-03-12T09:00:00.000Z", "/c", CHROME, user="tie", mid="m-3"),
    ]
    data = _loaded(tmp_path, views)
    days = {"start": "2026-03-10", "end": "2026-03-12"}
    every_view = {**days, "filters": EVERY_VIEW["filters"]}
    assert reads_rollup(data, days)
    rolled, events = run_web(data, "UTC", days), run_web(data, "UTC", every_view)
    assert rolled["summary"]["visits"] == 3
    assert sorted(r["value"] for r in rolled["entry_pages"]) == ["/a", "/c", "/x"]
    assert sorted(r["value"] for r in rolled["exit_pages"]) == ["/b", "/d", "/x"]
    assert _ends(events) == _ends(rolled)


def test_the_summary_alone_looks_up_no_tie(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No list, no entry nor exit to decide: neither reader looks the tied page views up."""
    import headwater.insights.web_rollup as web_rollup
    import headwater.insights.web_ties as web_ties

    lines = [
        page("2026-03-10T09:00:00.000Z", "/b", CHROME, user="tie", mid="m-2"),
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, user="tie", mid="m-1"),
        page("2026-03-10T09:00:00.000Z", "/c", CHROME, user="tie", mid="m-0"),
    ]
    data = _loaded(tmp_path, lines)
    whole = run_web(data, "UTC", EVERY_VIEW)
    looked: list[str] = []
    lookup = web_ties.tied_views
    for module in (web_ties, web_rollup):  # the events' reader calls it in web_ties, the rollup's its own
        monkeypatch.setattr(
            module, "tied_views", lambda *a, m=module.__name__, **k: looked.append(m) or lookup(*a, **k)
        )
    for body in (DAY, EVERY_VIEW):
        assert run_web(data, "UTC", {**body, "lists": []})["summary"] == whole["summary"]
    assert looked == []
    for body in (DAY, EVERY_VIEW):
        assert _ends(run_web(data, "UTC", body)) == (["/c"], ["/b"], ["Direct / None"])
    assert sorted(looked) == ["headwater.insights.web_rollup", "headwater.insights.web_ties"]


def test_two_runs_starting_a_visit_at_one_instant_go_by_message_id(tmp_path: Path) -> None:
    """A device's run and its user's run (one person once merged) start at the same instant."""
    lines = [
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, anon="dev-1", mid="z-1"),
        page("2026-03-10T09:00:00.000Z", "/b", CHROME, "https://t.co/x", user="merged", mid="a-1"),
        page("2026-03-10T09:10:00.000Z", "/c", CHROME, user="merged", anon="dev-1", mid="q-1"),
    ]
    data = _loaded(tmp_path, lines)
    assert reads_rollup(data, DAY)
    out = run_web(data, "UTC", DAY)
    assert out["summary"]["visits"] == 1 and _ends(out) == (["/b"], ["/c"], ["t.co"])
    assert _ends(run_web(data, "UTC", EVERY_VIEW)) == _ends(out)


def test_too_many_tied_instants_read_every_page_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import headwater.insights.web_ties as web_ties

    lines = [
        page("2026-03-10T09:00:00.000Z", "/b", CHROME, user="tie", mid="m-2"),
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, user="tie", mid="m-1"),
    ]
    data = _loaded(tmp_path, lines)
    assert reads_rollup(data, DAY)
    monkeypatch.setattr(web_ties, "MAX_INSTANTS", 0)
    assert not reads_rollup(data, DAY)
    assert run_web(data, "UTC", DAY)["summary"]["visits"] == 1  # from every page event


def test_runs_of_a_device_and_its_user_merge_into_one_visit(tmp_path: Path) -> None:
    """The rollup's runs are per actor and received day; the visit is the person's, across both."""
    lines = [
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, "https://www.google.com/", anon="dev-2"),
        page("2026-03-10T09:20:00.000Z", "/b", CHROME, user="u-2", anon="dev-2"),
        {
            **page("2026-03-10T09:40:00.000Z", "/c", CHROME, user="u-2"),
            "receivedAt": "2026-03-11T08:00:00.000Z",  # received the next day: a run of that day
        },
        page("2026-03-10T11:00:00.000Z", "/a", CHROME, user="u-2"),  # 80 minutes later: a second visit
    ]
    data = _loaded(tmp_path, lines)
    assert reads_rollup(data, DAY)
    out = run_web(data, "UTC", DAY)
    assert out["summary"] == {
        "visitors": 1,
        "visits": 2,
        "pageviews": 4,
        "views_per_visit": 2.0,
        "bounce_rate": 0.5,
        "visit_duration": 1200.0,  # (2,400 + 0) / 2
    }
    assert out["entry_pages"] == [{**out["entry_pages"][0], "value": "/a", "visits": 2}]
    assert [r["value"] for r in out["exit_pages"]] == ["/c", "/a"]  # ranked by pageviews at a tie
    assert [r["value"] for r in out["sources"]] == ["google.com", "Direct / None"]
    assert {r["value"]: r["pageviews"] for r in out["pages"]} == {"/a": 2, "/b": 1, "/c": 1}


def test_a_visit_of_24_hours_reads_the_events(tmp_path: Path) -> None:
    lines = [
        page(f"2026-03-10T{h:02d}:{m:02d}:00.000Z", "/loop", CHROME, user="long")
        for h in range(24)
        for m in (0, 25, 50)
    ] + [page("2026-03-11T00:10:00.000Z", "/loop", CHROME, user="long")]
    data = _loaded(tmp_path, lines)
    body = {"start": "2026-03-10", "end": "2026-03-11"}
    assert not reads_rollup(data, body)
    assert run_web(data, "UTC", body)["summary"]["visits"] == 2  # cut once 24 hours long


def test_the_etl_backfills_the_rollup_of_days_loaded_before_it(tmp_path: Path) -> None:
    lines = [
        page("2026-03-10T09:00:00.000Z", "/a", CHROME, user="b1"),
        page("2026-03-11T09:00:00.000Z", "/b", CHROME, user="b1"),
        page("2026-03-12T09:00:00.000Z", "/c", CHROME, user="b1"),
    ]
    data = tmp_path / "data"
    days = write_log(data, lines)
    for day in days[:2]:
        run_daily(data, day, "UTC")
    shutil.rmtree(data / "lake" / "visits")
    body = {"start": "2026-03-10", "end": "2026-03-12"}
    assert not reads_rollup(data, body)
    result = run_daily(data, days[2], "UTC")
    assert result.backfilled["visits"] == [d.isoformat() for d in days[:2]]
    assert reads_rollup(data, body)
    assert run_web(data, "UTC", body)["summary"]["visits"] == 3


def test_a_page_view_retention_writes_the_rollup_again(tmp_path: Path) -> None:
    lines = [
        page("2026-03-10T09:00:00.000Z", "/old", CHROME, user="r1"),
        page("2026-03-20T09:00:00.000Z", "/new", CHROME, user="r1"),
    ]
    data = _loaded(tmp_path, lines)
    settings = Settings(data_dir=data, event_retention_days={"page": 5})
    report = apply_privacy_retention(settings, today=date(2026, 3, 21), lake=True)
    assert report["visits_rewritten"] == ["2026-03-10"]
    body = {"start": "2026-03-01", "end": "2026-03-21"}
    assert reads_rollup(data, body)
    out = run_web(data, "UTC", body)
    assert [r["value"] for r in out["pages"]] == ["/new"]
    assert out["summary"]["pageviews"] == 1
