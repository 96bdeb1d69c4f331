"""Saved insights, dashboards and alerts in the control plane: one contract run on SQLite and on
PostgreSQL (SavedCatalog, AlertCatalog), each due check claimed once when several processes race,
and `headwater db copy` moving all of it (and their history) to PostgreSQL and back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.insights.saved import TileSpec
from headwater.stores.sql.alerts import AlertCatalog
from headwater.stores.sql.control_plane import read_control_plane
from headwater.stores.sql.database import open_database
from headwater.stores.sql.saved import SavedCatalog, UnknownInsight
from tests.helpers import cli

QUERY = {"start": "2026-03-01", "end": "2026-03-31", "series": [{"event": "Café ☕", "measure": "users"}]}
BELOW = {"type": "below", "value": 5, "period": "day"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'realtime.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def saved(url: str) -> Iterator[SavedCatalog]:
    catalog = SavedCatalog(url)
    try:
        yield catalog
    finally:
        catalog.close()


def test_saved_insights(saved: SavedCatalog) -> None:
    assert saved.insights() == [] and saved.insight("nope") is None
    one = saved.create_insight("Cafés", "trend", QUERY, "une description")
    two = saved.create_insight(
        "Funnel", "funnel", {"steps": ["a", "b"], "start": "2026-03-01", "end": "2026-03-02"}
    )
    assert saved.insight(one.id) == one and one.query == QUERY  # JSON kept as given, unicode included
    assert [i.id for i in saved.insights()] == [one.id, two.id]
    changed = saved.update_insight(one.id, "Renamed", "trend", {**QUERY, "interval": "week"}, "")
    assert (
        changed is not None and changed.created_at == one.created_at and changed.updated_at >= one.updated_at
    )
    assert saved.insight(one.id) == changed
    assert saved.update_insight("nope", "x", "trend", QUERY, "") is None
    assert saved.delete_insight("nope") is None
    assert saved.delete_insight(two.id) is not None and saved.insight(two.id) is None


def test_dashboards_and_their_tiles(saved: SavedCatalog) -> None:
    a = saved.create_insight("A", "trend", QUERY)
    b = saved.create_insight("B", "trend", QUERY)
    tiles = [TileSpec(a.id, 0, 0, 6, 4), TileSpec(b.id, 6, 0, 6, 4), TileSpec(a.id, 0, 4, 12, 3)]
    board = saved.create_dashboard("Main", "", tiles)
    assert [(t.insight, t.x, t.y, t.w, t.h, t.name) for t in board.tiles] == [
        (a.id, 0, 0, 6, 4, "A"),
        (b.id, 6, 0, 6, 4, "B"),
        (a.id, 0, 4, 12, 3, "A"),
    ]
    with pytest.raises(UnknownInsight) as info:
        saved.create_dashboard("Bad", "", [TileSpec(a.id, 0, 0, 1, 1), TileSpec("ghost", 0, 0, 1, 1)])
    assert (info.value.index, info.value.insight_id) == (1, "ghost")
    assert [d.name for d in saved.dashboards()] == ["Main"]  # nothing of the refused one was kept
    with pytest.raises(UnknownInsight):  # a refused change leaves the tiles as they were
        saved.update_dashboard(board.id, "Main", "", [TileSpec("ghost", 0, 0, 1, 1)])
    assert saved.dashboard(board.id) == board
    assert saved.update_dashboard("nope", "x", "", []) is None

    alerts = AlertCatalog(db=saved.db)
    watcher = alerts.create("Few", a.id, BELOW, 0, "https://hooks.example.com/x", "hour")
    alerts.record(watcher, "firing", "firing", {"value": 1}, datetime.now(UTC), {"notification": "firing"})
    removed = saved.delete_insight(a.id)  # its two tiles and its alert (with the history) go with it
    assert removed is not None and removed.tiles == 2 and removed.dashboards == (board.id,)
    assert removed.alerts == (watcher.id,) and alerts.alert(watcher.id) is None
    assert alerts.events(watcher.id) == []
    after = saved.dashboard(board.id)
    assert after is not None and [(t.insight, t.x) for t in after.tiles] == [(b.id, 6)]
    assert after.updated_at > board.updated_at
    # positions were renumbered: a tile added next goes after it
    grown = saved.update_dashboard(
        board.id,
        "Main",
        "",
        [*[TileSpec(t.insight, t.x, t.y, t.w, t.h) for t in after.tiles], TileSpec(b.id, 0, 9, 1, 1)],
    )
    assert grown is not None and [t.y for t in grown.tiles] == [0, 9]
    assert saved.delete_dashboard(board.id) and not saved.delete_dashboard(board.id)
    assert saved.insight(b.id) is not None


def test_alerts_their_checks_and_history(saved: SavedCatalog) -> None:
    insight = saved.create_insight("A", "trend", QUERY)
    alerts = AlertCatalog(db=saved.db)
    with pytest.raises(UnknownInsight):
        alerts.create("x", "ghost", BELOW, 0, "https://h.example/x", "hour")
    first = alerts.create("Few", insight.id, BELOW, 0, "https://h.example/x", "hour")
    second = alerts.create("Daily", insight.id, {**BELOW, "period": "week"}, 0, "https://h.example/y", "day")
    assert first.state is None and first.notified == "ok" and first.next_check_at is None
    now = datetime(2026, 4, 2, 9, tzinfo=UTC)
    assert [a.id for a in alerts.due(now)] == [first.id, second.id]  # never checked: due
    assert alerts.claim(first, now + timedelta(hours=1))
    assert not alerts.claim(first, now + timedelta(hours=1))  # read before the claim: lost
    assert [a.id for a in alerts.due(now)] == [second.id]
    assert [a.id for a in alerts.due(now + timedelta(hours=1))] == [first.id, second.id][::-1]
    alerts.reschedule(second.id, now + timedelta(days=1))
    assert alerts.due(now) == []

    made = alerts.record(
        first,
        "firing",
        "ok",
        {"value": 2, "error": None},
        now,
        {"notification": "firing", "error": "HTTP 500"},
    )
    assert made is not None and (made.previous_state, made.state, made.delivered, made.error) == (
        None,
        "firing",
        False,
        "HTTP 500",
    )
    stored = alerts.alert(first.id)
    assert (
        stored is not None
        and stored.state == "firing"
        and stored.notified == "ok"
        and stored.last_check == {"value": 2, "error": None}
    )
    assert stored.as_json()["last_value"] == 2
    later = now + timedelta(hours=1)
    assert alerts.record(stored, "firing", "firing", {"value": 1}, later, None) is None  # no history line
    delivered = alerts.record(
        stored,
        "firing",
        "firing",
        {"value": 1},
        later + timedelta(seconds=1),
        {"notification": "firing", "delivered": True},
    )
    assert delivered is not None and delivered.delivered and delivered.previous_state == "firing"
    assert [e.id for e in alerts.events(first.id)] == [delivered.id, made.id]
    assert [e.id for e in alerts.events(first.id, limit=1)] == [delivered.id]

    changed = alerts.update(
        first.id, "Fewer", insight.id, {**BELOW, "value": 3}, 0, "https://h.example/z", "day"
    )
    assert (
        changed is not None
        and changed.next_check_at is None
        and changed.state == "firing"
        and changed.notified == "firing"
    )
    assert alerts.update("nope", "x", insight.id, BELOW, 0, "https://h.example/z", "day") is None
    with pytest.raises(UnknownInsight):
        alerts.update(first.id, "x", "ghost", BELOW, 0, "https://h.example/z", "day")
    assert alerts.delete(first.id) and not alerts.delete(first.id) and alerts.events(first.id) == []
    assert [a.id for a in alerts.alerts(insight.id)] == [second.id]


def test_a_due_check_is_claimed_once_by_racing_processes(url: str) -> None:
    setup = SavedCatalog(url)
    insight = setup.create_insight("A", "trend", QUERY)
    alert = AlertCatalog(db=setup.db).create("Few", insight.id, BELOW, 0, "https://h.example/x", "hour")
    setup.close()
    now = datetime.now(UTC)
    won: list[bool] = []
    all_read = threading.Barrier(6)

    def claim() -> None:
        catalog = AlertCatalog(url)  # a connection of its own, as another process has
        try:
            (due,) = catalog.due(now)  # every one finds it due ...
            all_read.wait(30)
            won.append(catalog.claim(due, now + timedelta(hours=1)))  # ... and one takes it
        finally:
            catalog.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == [False] * 5 + [True], alert.id


def test_db_copy_moves_them_and_their_history(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    embedded = f"sqlite:///{(data / 'realtime.sqlite3').resolve()}"
    saved = SavedCatalog(embedded)
    insight = saved.create_insight("Cafés", "trend", QUERY, "d")
    funnel = saved.create_insight(
        "Funnel", "funnel", {"steps": ["a", "b"], "start": "2026-03-01", "end": "2026-03-02"}
    )
    board = saved.create_dashboard(
        "Main", "the board", [TileSpec(insight.id, 0, 0, 6, 4), TileSpec(funnel.id, 6, 0, 6, 4)]
    )
    alerts = AlertCatalog(db=saved.db)
    alert = alerts.create("Few", insight.id, BELOW, 0, "https://hooks.example.com/x", "hour")
    at = datetime(2026, 4, 2, 9, tzinfo=UTC)
    alerts.claim(alert, at + timedelta(hours=1))
    event = alerts.record(
        alert, "firing", "firing", {"value": 2.5}, at, {"notification": "firing", "delivered": True}
    )
    saved.close()

    done = cli(data, "db", "copy", "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "2 saved insights, 1 dashboard, 2 dashboard tiles, 1 alert, 1 alert event" in done.stdout
    source, target = open_database(embedded), open_database(pg_url)
    try:
        assert read_control_plane(target).rows == read_control_plane(source).rows
    finally:
        source.close()
        target.close()
    moved = SavedCatalog(pg_url)
    try:
        assert moved.insight(insight.id) == insight and moved.dashboard(board.id) == board
        there = AlertCatalog(db=moved.db)
        copied = there.alert(alert.id)
        assert copied is not None and copied.state == "firing" and copied.notified == "firing"
        assert copied.last_check == {"value": 2.5} and copied.next_check_at == "2026-04-02T10:00:00.000000Z"
        assert [e.id for e in there.events(alert.id)] == [event.id if event else ""]
        there.record(
            copied,
            "ok",
            "ok",
            {"value": 9},
            at + timedelta(hours=1),
            {"notification": "recovered", "delivered": True},
        )
    finally:
        moved.close()
    back = cli(data, "db", "copy", "--from", pg_url, "--to", embedded, "--replace", check=False)
    assert back.returncode == 0 and "alert" in back.stderr, back.stderr
    again = AlertCatalog(embedded)
    try:
        assert [e.notification for e in again.events(alert.id)] == ["recovered", "firing"]
    finally:
        again.close()
