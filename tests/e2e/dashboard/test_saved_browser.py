"""Saved insights and dashboards in a real Chromium against a real server over `headwater demo`
data (this module's own): saving an insight from its builder and pinning it, a dashboard of several
insights whose every number is its saved insight's result, tiles arranged from the keyboard and by
dragging, and the alerts with their state."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.dashboard.browser import Console
from tests.e2e.dashboard.pages import (
    UNLABELLED,
    api,
    body_from_hash,
    demo_server,
    expected_cells,
    go,
    open_page,
    overflow,
    screenshot,
    shown_number,
    signed_in,
    wait_until,
)
from tests.e2e.dashboard.support import artifacts_dir
from tests.helpers import Server, free_port

Page = tuple[Any, Console]
TREND = (
    '#/insights/trend?interval=week&series=[{"event":"Document Edited","measure":"users"}]'
    '&breakdown={"type":"person","name":"plan"}'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory, "saved") as srv:
        yield srv


@pytest.fixture(scope="module")
def context(browser: Any, server: Server) -> Iterator[Any]:
    with signed_in(browser, server) as ctx:
        yield ctx


def save(pg: Any, name: str, new_dashboard: str = "", pin_to: tuple[str, ...] = ()) -> str:
    """Save the builder's insight through its dialog; its id."""
    pg.click("button.save")
    pg.wait_for_selector("dialog[open]")
    pg.fill('dialog [data-field="name"]', name)
    for board in pin_to:
        pg.check(f'dialog label:text-is("{board}") >> xpath=preceding-sibling::input')
    if new_dashboard:
        pg.fill('dialog [data-field="new_dashboard"]', new_dashboard)
    pg.evaluate("document.querySelector('.save-status').removeAttribute('data-saved')")
    pg.click("dialog button[type=submit]")
    pg.wait_for_selector(".save-status[data-saved]", state="attached")
    assert pg.query_selector("dialog[open]") is None
    return pg.get_attribute(".save-status", "data-saved") or ""


def board(server: Server, name: str) -> dict[str, Any]:
    (found,) = [d for d in api(server, "GET", "/api/v1/dashboards")["dashboards"] if d["name"] == name]
    assert isinstance(found, dict)
    return found


def test_saving_an_insight_and_pinning_it_to_a_new_dashboard(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, TREND)
    query = body_from_hash(pg.url)
    insight = save(pg, "Editors by plan", new_dashboard="Growth")
    stored = api(server, "GET", f"/api/v1/insights/saved/{insight}")
    assert (stored["name"], stored["kind"], stored["query"]) == ("Editors by plan", "trend", query)
    assert f"saved={insight}" in pg.url
    assert "pinned to Growth" in pg.inner_text(".save-status")
    growth = board(server, "Growth")
    assert [t["insight"] for t in growth["tiles"]] == [insight]

    # saving again from the same page replaces it (the dialog offers to), with the form's new query
    pg.select_option('[data-field="interval"]', "day")
    again = save(pg, "Editors by plan, daily")
    assert again == insight
    stored = api(server, "GET", f"/api/v1/insights/saved/{insight}")
    assert stored["name"] == "Editors by plan, daily" and stored["query"]["interval"] == "day"
    assert len(api(server, "GET", "/api/v1/insights/saved")["insights"]) == 1

    # a refused save says why in the dialog (a blank name)
    pg.click("button.save")
    pg.fill('dialog [data-field="name"]', " ")
    pg.click("dialog button[type=submit]")
    error = pg.wait_for_selector("dialog .form-error:not([hidden])")
    assert "name" in error.inner_text()
    pg.click('dialog button:text-is("Cancel")')
    assert pg.query_selector("dialog[open]") is None
    assert all("400" in p for p in console.problems), console.problems


def saved_insights(server: Server, start: str, end: str) -> dict[str, str]:
    """Seven more saved insights (one of each kind), by the API; name -> id."""
    specs: list[tuple[str, str, dict[str, Any]]] = [
        ("Sign-up funnel", "funnel", {"steps": ["Signed Up", "Project Created", "Teammate Invited"]}),
        ("Weekly retention", "retention", {"period": "week"}),
        ("After sign-up", "paths", {"event": "Signed Up", "steps": 2}),
        ("Web", "web", {"limit": 5}),
        (
            "Messages per sender",
            "trend",
            {
                "series": [
                    {"event": "Message Sent", "measure": "events"},
                    {"event": "Message Sent", "measure": "users"},
                ],
                "formula": "A / B",
                "interval": "week",
                "compare": True,
            },
        ),
        (
            "Docs users",
            "trend",
            {
                "series": [{"event": None, "measure": "users"}],
                "filters": [{"type": "event", "name": "app", "op": "eq", "value": "docs"}],
            },
        ),
        (
            "Plans at sign-up",
            "trend",
            {
                "series": [{"event": "Signed Up", "measure": "users"}],
                "breakdown": {"type": "event", "name": "plan"},
                "interval": "range",
            },
        ),
    ]
    out = {}
    for name, kind, query in specs:
        body = {"name": name, "kind": kind, "query": {"start": start, "end": end, "tz": "UTC", **query}}
        out[name] = api(server, "POST", "/api/v1/insights/saved", body)["id"]
    return out


def check_tile(pg: Any, server: Server, tile: Any, insight: str, kind: str, **params: str) -> None:
    """Every number of a tile is its saved insight's result."""
    answer = api(server, "GET", f"/api/v1/insights/saved/{insight}/result", **params)
    if kind == "trend":
        shown = {}
        for td in tile.query_selector_all("table.trend td[data-series]"):
            key = (
                td.get_attribute("data-period"),
                td.get_attribute("data-date"),
                td.get_attribute("data-series"),
                td.get_attribute("data-breakdown"),
            )
            shown[key] = (
                None
                if td.get_attribute("data-value") == "null"
                else float(td.get_attribute("data-value") or "nan")
            )
        assert shown == expected_cells(answer), insight
    elif kind == "funnel":
        users = [shown_number(td.inner_text()) for td in tile.query_selector_all('td[data-key="users"]')]
        assert users == [r["users"] for r in answer["rows"]] and users[0]
    elif kind == "retention":
        sizes = [
            shown_number(td.inner_text()) for td in tile.query_selector_all('td[data-key="cohort_size"]')
        ][1:]
        assert sizes == [r["cohort_size"] for r in answer["rows"] if r["cohort_size"]]
    elif kind == "paths":
        users = [int(n.get_attribute("data-users") or -1) for n in tile.query_selector_all(".node")]
        assert users == [answer["anchor"]["users"]] + [
            n["users"] for s in answer["steps"] for n in s["nodes"]
        ]
    elif kind == "web":
        for key, value in answer["summary"].items():
            assert (
                float(tile.query_selector(f'.tile[data-metric="{key}"]').get_attribute("data-value")) == value
            )


def test_a_dashboard_of_several_insights_shows_their_results(context: Any, server: Server) -> None:
    today = date.today()
    start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
    ids = saved_insights(server, start, end)
    growth = board(server, "Growth")
    # pinned from the dashboards page, one by one (the Pin button of each saved insight)
    pg, console = open_page(context, server, "#/dashboards")
    for name in ids:
        row = pg.query_selector(f'table.saved tr:has(a:text-is("{name}"))')
        row.query_selector("select").select_option(growth["id"])
        with pg.expect_response(lambda r: r.request.method == "PUT"):
            row.query_selector('button:text-is("Pin")').click()
        wait_until(lambda n=name: f"Pinned “{n}”" in pg.inner_text("#page"))
    growth = board(server, "Growth")
    assert len(growth["tiles"]) == 8
    assert "8 insight(s)" in pg.inner_text(".board-list")

    go(pg, f"#/dashboards/{growth['id']}")
    tiles = pg.query_selector_all(".board-tile")
    assert len(tiles) == 8
    kinds = {i["id"]: i["kind"] for i in api(server, "GET", "/api/v1/insights/saved")["insights"]}
    for tile in tiles:
        assert tile.get_attribute("data-state") == "ready", tile.inner_text()[:300]
        insight = tile.get_attribute("data-insight") or ""
        check_tile(pg, server, tile, insight, kinds[insight])
    first_load = pg.evaluate("window.headwaterBoardMs")
    record = {
        "tiles": 8,
        "first_load_ms": first_load,
        "users": 120,
        "days": 40,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    (artifacts_dir() / "board-timing.json").write_text(json.dumps(record, indent=2) + "\n")
    assert 0 < first_load < 30_000
    screenshot(pg, artifacts_dir(), "page-board")

    # one range for every tile: the last 7 days
    with pg.expect_response(lambda r: "/result?" in r.url and "start=" in r.url):
        pg.click('.board-range button:text-is("7 d")')
    pg.wait_for_selector('#page[data-state="ready"]', state="attached")
    week = {"start": (today - timedelta(days=6)).isoformat(), "end": end}
    assert f"start={week['start']}" in pg.url
    wait_until(
        lambda: all(t.get_attribute("data-state") == "ready" for t in pg.query_selector_all(".board-tile"))
    )
    for tile in pg.query_selector_all(".board-tile"):
        insight = tile.get_attribute("data-insight") or ""
        check_tile(pg, server, tile, insight, kinds[insight], **week)
    assert console.problems == []


def test_tiles_are_arranged_from_the_keyboard_and_by_dragging(context: Any, server: Server) -> None:
    growth = board(server, "Growth")
    pg, console = open_page(context, server, f"#/dashboards/{growth['id']}")

    def layout() -> list[tuple[str, int, int, int, int]]:
        tiles = sorted(board(server, "Growth")["tiles"], key=lambda t: (t["y"], t["x"]))
        return [(t["insight"], t["x"], t["y"], t["w"], t["h"]) for t in tiles]

    before = layout()
    pg.click("button.arrange")
    assert pg.get_attribute("button.arrange", "aria-pressed") == "true"
    pg.focus(".board-tile:nth-child(1) .mv-right")
    pg.keyboard.press("Enter")
    pg.wait_for_selector('.board[data-saved="1"]', state="attached")
    after = layout()
    assert [t[0] for t in after[:2]] == [before[1][0], before[0][0]]  # the first two swapped
    assert pg.evaluate("document.activeElement.classList.contains('mv-right')")  # the focus stayed
    assert pg.get_attribute(".board-tile:nth-child(2)", "data-insight") == before[0][0]  # DOM order too
    # down a row, then wider: saved each time
    pg.focus(".board-tile:nth-child(2) .mv-down")
    pg.keyboard.press("Enter")
    pg.wait_for_selector('.board[data-saved="2"]', state="attached")
    moved = layout()
    assert [t[0] for t in moved].index(before[0][0]) >= 2  # now in the second row
    tile = pg.query_selector(f'.board-tile[data-insight="{before[0][0]}"] .wider')
    tile.focus()
    pg.keyboard.press("Enter")
    pg.wait_for_selector('.board[data-saved="3"]', state="attached")
    assert {t[0]: t[3] for t in layout()}[before[0][0]] == 7
    assert "7 of 12 columns wide" in pg.inner_text(".board-tools .status")

    # dragged onto the first tile: it goes first
    last = pg.query_selector_all(".board-tile")[-1].get_attribute("data-insight")
    pg.set_viewport_size({"width": 1440, "height": 2000})  # both tiles in view: no scroll while dragging
    pg.drag_and_drop(".board-tile:last-child h3", ".board-tile:first-child h3")
    pg.wait_for_selector('.board[data-saved="4"]', state="attached")
    assert layout()[0][0] == last

    # the layout is the dashboard's: a reload draws it so
    saved = layout()
    pg.reload()
    pg.wait_for_selector('#page[data-state="ready"]', state="attached")
    shown = [
        (
            t.get_attribute("data-insight"),
            int(t.get_attribute("data-x") or -1),
            int(t.get_attribute("data-y") or -1),
        )
        for t in pg.query_selector_all(".board-tile")
    ]
    assert shown == [(t[0], t[1], t[2]) for t in saved]
    assert console.problems == []


def test_alerts_are_listed_with_their_state_and_last_value(context: Any, server: Server) -> None:
    growth = board(server, "Growth")
    trend = next(
        i for i in api(server, "GET", "/api/v1/insights/saved")["insights"] if i["name"] == "Docs users"
    )
    hook = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens: the check still sets the state
    firing = api(
        server,
        "POST",
        "/api/v1/alerts",
        {
            "name": "Docs users above 0",
            "insight": trend["id"],
            "condition": {"type": "above", "value": 0},
            "webhook_url": hook,
        },
    )
    quiet = api(
        server,
        "POST",
        "/api/v1/alerts",
        {
            "name": "Docs users above a million",
            "insight": trend["id"],
            "condition": {"type": "above", "value": 1_000_000},
            "webhook_url": hook,
        },
    )
    api(server, "POST", f"/api/v1/alerts/{firing['id']}/check")
    api(server, "POST", f"/api/v1/alerts/{quiet['id']}/check")
    alerts = {a["name"]: a for a in api(server, "GET", "/api/v1/alerts")["alerts"]}
    pg, console = open_page(context, server, "#/dashboards")
    for page in ("#/dashboards", f"#/dashboards/{growth['id']}"):
        if page != "#/dashboards":
            go(pg, page)
        pg.wait_for_selector('section.alerts[data-state="ready"]')
        rows = {
            tr.query_selector('td[data-key="name"]').inner_text(): tr
            for tr in pg.query_selector_all("section.alerts tbody tr")
        }
        assert set(rows) == set(alerts)
        for name, alert in alerts.items():
            assert rows[name].query_selector('td[data-key="state"]').inner_text() == (
                alert["state"] or "not checked yet"
            )
            value = rows[name].query_selector('td[data-key="last_value"]')
            assert shown_number(value.inner_text()) == alert["last_value"]
        assert {a["state"] for a in alerts.values()} == {"firing", "ok"}
        assert "1 firing" in pg.inner_text("section.alerts .status")
    assert console.problems == []


@pytest.mark.parametrize("width", [375, 1440])
def test_the_dashboard_pages_fit_the_width(browser: Any, server: Server, width: int) -> None:
    growth = board(server, "Growth")
    with signed_in(browser, server, width=width) as ctx:
        for link in ("#/dashboards", f"#/dashboards/{growth['id']}"):
            pg, console = open_page(ctx, server, link)
            scroll, inner = overflow(pg)
            assert scroll <= inner, (link, width, scroll, inner)
            assert pg.evaluate(UNLABELLED) == [], link
            if "dashboards/" in link:
                pg.click("button.arrange")  # every tile's arranging buttons shown
            assert pg.evaluate(UNLABELLED) == [], link
            assert overflow(pg)[0] <= inner
            assert console.problems == [], console.problems
            pg.close()
