"""The dashboard in a real Chromium against a real server over `headwater demo` data."""

from __future__ import annotations

import csv
import json
import os
import time
from datetime import date, timedelta
from typing import Any

import httpx

from headwater.http.dashboard import STATIC_PREFIX
from tests.e2e.dashboard.browser import DATA_PANELS, Console, login, tile_value, wait_loads, wait_ready
from tests.e2e.dashboard.late import expected_late
from tests.e2e.dashboard.support import TOKEN, api_get, artifacts_dir
from tests.helpers import ROOT, Server, create_key

Page = tuple[Any, Console]


STATIC = ROOT / "src" / "headwater" / "dashboard" / "static"


def page_range(pg: Any) -> tuple[str, str, str]:
    return pg.input_value("#start"), pg.input_value("#end"), pg.input_value("#tz")


def download_csv(pg: Any, panel: str) -> list[dict[str, str]]:
    with pg.expect_download() as info:
        pg.click(f"#{panel} button.csv")
    path = info.value.path()
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def by_date(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["date"]: row for row in rows}


def expected_headline(srv: Server, start: str, end: str, tz: str) -> dict[str, float | None]:
    q = {"start": start, "end": end, "tz": tz}
    stick = by_date(api_get(srv, "/api/v1/metrics/stickiness", **q)["rows"])[end]
    wau = by_date(api_get(srv, "/api/v1/metrics/wau", **q)["rows"])[end]
    sessions = api_get(srv, "/api/v1/metrics/sessions", **q)["rows"]
    lifecycle = api_get(srv, "/api/v1/metrics/lifecycle", **q)["rows"]
    return {
        "dau": stick["dau"],
        "wau": wau["value"],
        "mau": stick["mau"],
        "dau_mau": stick["value"],
        "new_users": sum(r["new"] for r in lifecycle),
        "sessions": sum(r["sessions"] for r in sessions),
        "median_session": by_date(sessions)[end]["median_seconds"],
    }


def test_every_panel_renders_with_data_without_console_errors(page: Page, demo_server: Server) -> None:
    pg, console = page
    for panel in DATA_PANELS:
        assert pg.get_attribute(f"#{panel}", "data-state") == "ready", (panel, pg.inner_text(f"#{panel}"))
    tiles = pg.query_selector_all("#headline .tile")
    assert len(tiles) == 7
    for tile in tiles:
        assert tile.get_attribute("data-value") not in (None, ""), tile.inner_text()
    assert tile_value(pg, "headline", "mau") and tile_value(pg, "headline", "sessions")
    assert len(pg.query_selector_all("#activity path.line")) == 3
    assert all(p.get_attribute("d") for p in pg.query_selector_all("#activity path.line"))
    assert len(pg.query_selector_all("#features tbody tr")) >= 8
    assert len(pg.query_selector_all("#features svg.spark")) >= 8
    assert len(pg.query_selector_all("#preferences .hbar")) == 3  # the demo's plans
    assert len(pg.query_selector_all("#stickiness rect.bar")) >= 3
    assert len(pg.query_selector_all("#retention tbody tr")) >= 10
    assert len(pg.query_selector_all("#funnel .hbar")) == 3
    assert len(pg.query_selector_all("#lifecycle rect.bar")) >= 20
    assert len(pg.query_selector_all("#live .tile")) >= 3
    assert "tailer realtime lag" in pg.inner_text("#health")
    assert "last ETL load" in pg.inner_text("#health")
    assert "late events" in pg.inner_text("#health")
    # the demo's A/B test with its results, and its audiences with their sizes
    assert "onboarding-checklist" in pg.inner_text("#experiments")
    assert len(pg.query_selector_all("#experiments tbody tr")) >= 4  # 2 metrics x 2 variations
    assert pg.query_selector_all('#experiments td[data-key="p_value"][data-value]')
    assert {"power-editors", "pro-sign-ups"} <= set(pg.inner_text("#audiences").split())
    assert console.problems == []
    shot = artifacts_dir() / "dashboard.png"
    pg.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000


def test_first_load_time_is_measured(context: Any, demo_server: Server) -> None:
    """Navigation start to every panel drawn, for the test's small data set (the 10,000-user
    figure comes from bench/bench_dashboard.py)."""
    pg = context.new_page()
    login(pg, demo_server.url, TOKEN)  # signs in (sets the cookie); the timed load is the next one
    pg.goto(demo_server.url + "/dashboard/")
    wait_ready(pg)
    first_load_ms = pg.evaluate("window.headwaterFirstLoadMs")
    assert 0 < first_load_ms < 60_000
    record = {
        "first_load_ms": first_load_ms,
        "panels_ms": pg.evaluate("window.headwaterTimings"),  # each panel's time, for the breakdown
        "users": 120,
        "days": 40,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    (artifacts_dir() / "dashboard-timing.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"dashboard first load: {first_load_ms} ms ({record})")


def test_numbers_equal_the_metrics_api(page: Page, demo_server: Server) -> None:
    pg, console = page
    start, end, tz = page_range(pg)
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == 29  # the 30-day default
    expected = expected_headline(demo_server, start, end, tz)
    for metric, value in expected.items():
        shown = tile_value(pg, "headline", metric)
        assert shown == value, (metric, shown, value)

    q = {"start": start, "end": end, "tz": tz}
    features = api_get(demo_server, "/api/v1/metrics/features", **q)["rows"]
    # only real tools (events without a tool_id are not features), each over the whole range:
    # its events, and its users on an average day
    table = {(r["tool_id"], r["event"]): r for r in download_csv(pg, "features")}
    events: dict[tuple[str, str], int] = {}
    user_days: dict[tuple[str, str], int] = {}
    for row in features:
        if not row["tool_id"] or not start <= row["date"] <= end:
            continue
        key = (row["tool_id"], row["event"])
        events[key] = events.get(key, 0) + row["events"]
        user_days[key] = user_days.get(key, 0) + row["users"]
    assert {k: int(v["events"]) for k, v in table.items()} == events
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    assert {k: float(v["avg_daily_users"]) for k, v in table.items()} == {
        k: round(100 * n / days) / 100 for k, n in user_days.items()
    }

    lifecycle = api_get(demo_server, "/api/v1/metrics/lifecycle", **q)["rows"]
    shown_life = download_csv(pg, "lifecycle")
    assert [{k: int(v) if k != "date" else v for k, v in r.items()} for r in shown_life] == [
        {k: r[k] for k in ("date", "new", "returning", "resurrecting", "dormant")} for r in lifecycle
    ]

    stickiness = api_get(demo_server, "/api/v1/metrics/stickiness", **q)["active_days"]
    assert [(int(r["active_days"]), int(r["users"])) for r in download_csv(pg, "stickiness")] == [
        (r["days"], r["users"]) for r in stickiness
    ]

    steps = "Signed Up,Project Created,Teammate Invited"
    funnel = api_get(demo_server, "/api/v1/metrics/funnel", steps=steps, window_days=14, **q)["rows"]
    assert [int(r["users"]) for r in download_csv(pg, "funnel")] == [r["users"] for r in funnel]

    retention = api_get(demo_server, "/api/v1/metrics/retention", period="day", **q)
    shown_ret = {r["cohort"]: r for r in download_csv(pg, "retention")}
    for cohort in retention["rows"]:
        if cohort["cohort_size"]:
            row = shown_ret[cohort["date"]]
            assert int(row["users"]) == cohort["cohort_size"]
            for cell in cohort["values"]:
                assert float(row[f"day {cell['period']}"]) == cell["rate"]

    prefs = api_get(demo_server, "/api/v1/metrics/preferences", trait="plan", **q)["rows"]
    assert [(r["plan"], int(r["users"])) for r in download_csv(pg, "preferences")] == [
        (r["value"], r["users"]) for r in prefs
    ]
    dau = api_get(demo_server, "/api/v1/metrics/dau", **q)["rows"]
    assert [int(r["dau"]) for r in download_csv(pg, "activity")] == [r["value"] for r in dau]
    assert console.problems == []


def test_date_range_picker_changes_the_numbers(page: Page, demo_server: Server) -> None:
    pg, console = page
    before = tile_value(pg, "headline", "sessions")
    loads = int(pg.get_attribute("body", "data-loads") or 0)
    pg.click('.presets button[data-days="7"]')
    wait_loads(pg, loads + 1)
    start, end, tz = page_range(pg)
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == 6
    after = tile_value(pg, "headline", "sessions")
    assert after != before
    assert f"start={start}" in pg.url and f"end={end}" in pg.url
    expected = expected_headline(demo_server, start, end, tz)
    assert {m: tile_value(pg, "headline", m) for m in expected} == expected
    assert len(pg.query_selector_all("#lifecycle rect.bar")) <= 7 * 4

    # typed dates and Apply
    first = (date.fromisoformat(end) - timedelta(days=13)).isoformat()
    pg.fill("#start", first)
    pg.click("#apply")
    wait_loads(pg, loads + 2)
    assert expected_headline(demo_server, first, end, tz)["sessions"] == tile_value(
        pg, "headline", "sessions"
    )
    assert console.problems == []


def test_time_zone_picker_changes_the_days(page: Page, demo_server: Server) -> None:
    pg, console = page
    loads = int(pg.get_attribute("body", "data-loads") or 0)
    pg.select_option("#tz", "Pacific/Kiritimati")  # UTC+14: most events move to another day
    wait_loads(pg, loads + 1)
    start, end, tz = page_range(pg)
    assert tz == "Pacific/Kiritimati" and "tz=Pacific%2FKiritimati" in pg.url
    expected = expected_headline(demo_server, start, end, tz)
    assert {m: tile_value(pg, "headline", m) for m in expected} == expected
    utc = expected_headline(demo_server, start, end, "UTC")
    assert expected != utc
    assert console.problems == []


def test_live_panel_updates_when_events_are_sent(page: Page, demo_server: Server) -> None:
    pg, console = page
    before = tile_value(pg, "live", "events_today")
    ticks = int(pg.get_attribute("#live", "data-ticks") or 0)
    assert before is not None
    key = create_key(demo_server.data_dir, "dashboard-live")
    batch = [
        {
            "type": "track",
            "userId": f"live-{i}",
            "event": "Live Check",
            "properties": {"tool_id": "live-probe"},
        }
        for i in range(25)
    ]
    deadline = time.monotonic() + 15
    while True:  # a new key reaches the collector within its refresh interval
        resp = httpx.post(demo_server.url + "/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = tile_value(pg, "live", "events_today")
        if now is not None and now >= before + 25 and "live-probe" in pg.inner_text("#live"):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"live panel still shows {tile_value(pg, 'live', 'events_today')}, was {before}")
    assert int(pg.get_attribute("#live", "data-ticks") or 0) > ticks
    assert console.problems == []


def test_a_wrong_token_is_refused(context: Any, demo_server: Server) -> None:
    pg = context.new_page()
    pg.goto(demo_server.url + "/dashboard/")
    assert pg.url.endswith("/dashboard/login")
    pg.fill("#token", TOKEN + "x")
    with pg.expect_response(
        lambda r: r.url.endswith("/dashboard/login") and r.request.method == "POST"
    ) as info:
        pg.click("#token-form button[type=submit]")
    assert info.value.status == 401
    assert "Wrong admin token" in pg.inner_text("body")
    assert context.cookies() == []
    assert pg.evaluate("fetch('/api/v1/dashboard/config').then(r => r.status)") == 401
    # a forged cookie is no better, nor the token itself as a cookie
    context.add_cookies([{"name": "headwater_session", "value": "guess", "url": demo_server.url}])
    pg.goto(demo_server.url + "/dashboard/")
    assert pg.url.endswith("/dashboard/login")
    context.clear_cookies()
    context.add_cookies([{"name": "headwater_session", "value": TOKEN, "url": demo_server.url}])
    pg.goto(demo_server.url + "/dashboard/")
    assert pg.url.endswith("/dashboard/login")
    context.clear_cookies()
    # the right one signs in with a cookie scripts cannot read nor other sites send
    login(pg, demo_server.url, TOKEN)
    (cookie,) = context.cookies()
    assert cookie["name"] == "headwater_session" and TOKEN not in cookie["value"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert pg.evaluate("document.cookie") == ""
    pg.click(".logout button")
    pg.wait_for_url("**/dashboard/login")
    assert context.cookies() == []


def test_nothing_is_fetched_from_elsewhere(context: Any, demo_server: Server) -> None:
    urls: list[str] = []
    pg = context.new_page()
    pg.on("request", lambda r: urls.append(r.url))
    login(pg, demo_server.url, TOKEN)
    assert urls
    outside = [
        u for u in urls if not u.startswith(demo_server.url + "/") and not u.startswith(("data:", "blob:"))
    ]
    assert outside == []
    # every module of the page, preloaded from the HTML, each fetched once; and the style sheet
    static = [u.split("?")[0].split(STATIC_PREFIX, 1)[1] for u in urls if "/dashboard/static/" in u]
    modules = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js"))
    assert sorted(s for s in static if s.endswith(".js")) == modules, static
    assert {s for s in static if not s.endswith(".js")} == {"dashboard.css"}, static
    csp = httpx.get(demo_server.url + "/dashboard/login").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe" not in csp


def test_experiments_and_audiences_equal_their_apis(page: Page, demo_server: Server) -> None:
    pg, console = page
    (exp,) = api_get(demo_server, "/api/v1/experiments")["experiments"]
    results = api_get(demo_server, f"/api/v1/experiments/{exp['key']}/results")
    shown = {(r["metric"], r["variation"]): r for r in download_csv(pg, "experiments")}
    assert len(results["metrics"]) == 2
    for metric in results["metrics"]:
        comparisons = {c["variation"]: c for c in metric["comparisons"]}
        for variant in metric["variants"]:
            row = shown.pop((metric["key"], variant["variation"]))
            assert (row["experiment"], row["status"]) == (exp["key"], "running")
            assert int(row["users"]) == variant["users"] > 0
            assert float(row["mean"]) == variant["mean"]
            compared = comparisons.get(variant["variation"])
            if compared is None:  # the control
                assert row["note"] == "control" and row["lift"] == ""
                continue
            relative = compared["frequentist"][0]
            assert relative["difference"] == "relative"
            assert float(row["lift"]) == relative["expected"]
            assert [float(row["ci_low"]), float(row["ci_high"])] == relative["ci"]
            assert float(row["p_value"]) == relative["p_value"]
            assert float(row["chance_to_win"]) == compared["bayesian"][0]["chance_to_win"]
    assert shown == {}

    # A live size is null when the live store did not answer within 100 ms (a loaded machine):
    # the page then shows "—"; load it again until it has every size.
    for _ in range(5):
        rows = download_csv(pg, "audiences")
        if all(r["live_size"] for r in rows):
            break
        pg.reload()
        wait_ready(pg)
    audiences = api_get(demo_server, "/api/v1/audiences")["audiences"]
    sizes = {r["id"]: int(r["live_size"]) for r in rows}
    assert sizes == {a["id"]: a["live_size"] for a in audiences}
    assert len(sizes) == 2 and all(n > 0 for n in sizes.values())
    for audience in audiences:
        cell = pg.query_selector(f'#audiences td[data-key="live_size"][data-value="{audience["live_size"]}"]')
        assert cell is not None, audience
    assert console.problems == []


def test_health_shows_late_events_of_the_range(page: Page, demo_server: Server) -> None:
    """Late events (received on a later day than their timestamp's, in the range's time zone), as
    counted by hand over the raw log; they follow the range picker."""
    pg, console = page

    def shown() -> tuple[int, int]:
        cell = pg.query_selector('#health td[data-metric="late_events"]')
        assert cell is not None, pg.inner_text("#health")
        return int(cell.get_attribute("data-events") or -1), int(cell.get_attribute("data-value") or -1)

    start, end, tz = page_range(pg)
    expected = expected_late(demo_server.data_dir, date.fromisoformat(start), date.fromisoformat(end), tz)
    assert shown() == expected and expected[1] > 1000  # the demo sends its whole history at once
    assert "were received on a later day" in pg.inner_text("#health")
    loads = int(pg.get_attribute("body", "data-loads") or 0)
    pg.click('.presets button[data-days="7"]')
    wait_loads(pg, loads + 1)
    start, end, tz = page_range(pg)
    expected = expected_late(demo_server.data_dir, date.fromisoformat(start), date.fromisoformat(end), tz)
    deadline = time.monotonic() + 15
    while shown() != expected and time.monotonic() < deadline:  # redrawn with the range
        time.sleep(0.2)
    assert shown() == expected
    assert console.problems == []
