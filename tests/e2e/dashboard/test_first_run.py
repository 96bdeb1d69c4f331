"""A new project in Chromium: `GET /` leads to the dashboard, which shows the write key and snippets
until the first event, sent with the shown curl snippet, turns it live; the default range ends
today. And every page at 375 and 1440 px: no horizontal overflow, no console error."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.dashboard.browser import Console, login, wait_loads
from tests.e2e.dashboard.support import TOKEN, api_get, wait_started
from tests.helpers import Server

SHOTS = Path("/tmp") / "headwater-dashboard-shots"
RANGE_PANELS = ["headline", "activity", "features", "preferences", "stickiness", "retention", "funnel"]


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("first-run") / "data", env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    try:
        srv.start(timeout=60)
        wait_started(srv)
        yield srv
    finally:
        srv.stop()


def overflow(pg: Any) -> int:
    return int(pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def shot(pg: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_first_run_to_first_event(browser: Any, empty_server: Server) -> None:
    srv = empty_server
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = ctx.new_page()
    console = Console()
    console.watch(pg)
    pg.goto(srv.url + "/")  # a browser's GET / leads to the dashboard (its sign-in first)
    assert pg.url.endswith("/dashboard/login")
    login(pg, srv.url, TOKEN)
    config = api_get(srv, "/api/v1/dashboard/config")
    assert config["events"] is False
    (key,) = [k["key"] for k in config["write_keys"]]  # `serve` made the "default" key at first start
    assert pg.is_visible("#setup") and "Waiting for the first event" in pg.inner_text("#setup")
    for panel in RANGE_PANELS:
        assert pg.is_hidden(f"#{panel}"), panel  # no empty panels
    snippets = {}
    for tab in ("curl", "analytics-js", "python", "node"):
        pg.click(f"#tab-{tab}")
        text = pg.inner_text(f"#snippet-{tab} pre")
        assert key in text and srv.url.split("://")[1] in text, (tab, text)
        snippets[tab] = text
    assert "segment.analytics" in snippets["python"] and "@segment/analytics-node" in snippets["node"]
    assert "cdnURL" in snippets["analytics-js"]
    # the default range ends today (the project's time zone), 30 days
    today = date.today() if config["timezone"] == "UTC" else None
    start, end = pg.input_value("#start"), pg.input_value("#end")
    assert end == config["today"] and (today is None or end == today.isoformat())
    assert date.fromisoformat(end) - date.fromisoformat(start) == timedelta(days=29)
    for width in (375, 1440):
        pg.set_viewport_size({"width": width, "height": 900})
        assert overflow(pg) <= 0, width
        shot(pg, f"first-run-{width}")
    pg.set_viewport_size({"width": 1440, "height": 900})

    # the curl snippet, run as shown, sends the first event: the page turns live
    pg.click("#tab-curl")
    sent = subprocess.run(["bash", "-c", snippets["curl"]], capture_output=True, text=True, timeout=30)
    assert '"success":true' in sent.stdout.replace(" ", ""), sent.stdout + sent.stderr
    pg.wait_for_selector("#setup .waiting.live", timeout=30_000)
    assert "First event received" in pg.inner_text("#setup")
    wait_loads(pg, 1)
    for panel in RANGE_PANELS:
        assert pg.is_visible(f"#{panel}"), panel
    # the event is in today's numbers, equal to the metrics API's
    q = {"start": start, "end": end, "tz": pg.input_value("#tz")}
    features = api_get(srv, "/api/v1/metrics/features", **q)["rows"]
    reports = [r for r in features if r["tool_id"] == "reports"]
    assert sum(r["events"] for r in reports) == 1
    cell = pg.query_selector('#features td[data-key="events"]')
    assert cell is not None and cell.get_attribute("data-value") == "1"
    assert pg.get_attribute('#headline .tile[data-metric="dau"]', "data-value") == str(
        next(r for r in api_get(srv, "/api/v1/metrics/dau", **q)["rows"] if r["date"] == end)["value"]
    )
    shot(pg, "first-event-1440")
    # the next visit is the dashboard itself
    pg.reload()
    pg.wait_for_selector("body[data-ready]", state="attached")
    assert pg.query_selector("#setup") is None and pg.is_visible("#features")
    assert console.problems == []
    ctx.close()


def test_the_range_includes_today_with_a_today_preset(page: tuple[Any, Console], demo_server: Server) -> None:
    pg, console = page
    tz = pg.input_value("#tz")
    today = api_get(demo_server, "/api/v1/dashboard/config")["today"]
    assert pg.input_value("#end") == today
    loads = int(pg.get_attribute("body", "data-loads") or 0)
    pg.click('.presets button[data-days="1"]')
    wait_loads(pg, loads + 1)
    assert pg.input_value("#start") == pg.input_value("#end") == today
    dau = api_get(demo_server, "/api/v1/metrics/dau", start=today, end=today, tz=tz)["rows"][0]["value"]
    assert pg.get_attribute('#headline .tile[data-metric="dau"]', "data-value") == str(dau)
    assert ZoneInfo(tz)
    assert console.problems == []


@pytest.mark.parametrize("width", [375, 1440])
def test_every_panel_fits_the_width(browser: Any, demo_server: Server, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    pg = ctx.new_page()
    console = Console()
    console.watch(pg)
    login(pg, demo_server.url, TOKEN)
    assert overflow(pg) <= 0
    # nothing cut: the experiments' columns and data health's values are inside their panels
    for selector in ("#experiments", "#health", "#features", "#retention"):
        box = pg.eval_on_selector(selector, "e => e.getBoundingClientRect().right")
        assert box <= width + 0.5, selector
    if width == 1440:
        for panel in ("experiments", "health", "retention"):  # no inner horizontal scroll
            scroll = pg.eval_on_selector(f"#{panel} .table-wrap", "e => e.scrollWidth - e.clientWidth")
            assert scroll <= 1, (panel, scroll)
        wrap = pg.eval_on_selector("#retention .table-wrap", "e => e.scrollHeight - e.clientHeight")
        assert wrap <= 1  # every cohort shown, the newest included
    shot(pg, f"demo-{width}")
    assert console.problems == []
    ctx.close()
