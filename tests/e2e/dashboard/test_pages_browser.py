"""The insight builders, people and live events pages in a real Chromium against a real server over
`headwater demo` data (this module's own): the numbers on screen are the APIs' answers for the same
query, the address reproduces a view, errors name their field, and every page fits 375 and 1440 px
without a console error, every control labelled and reachable from the keyboard."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.dashboard.browser import Console
from tests.e2e.dashboard.pages import (
    UNLABELLED,
    api,
    body_from_hash,
    cells,
    demo_server,
    expected_cells,
    go,
    hash_params,
    open_page,
    overflow,
    screenshot,
    shown_number,
    signed_in,
    wait_until,
)
from tests.e2e.dashboard.support import artifacts_dir
from tests.helpers import Server, create_key

Page = tuple[Any, Console]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory, "pages") as srv:
        yield srv


@pytest.fixture(scope="module")
def context(browser: Any, server: Server) -> Iterator[Any]:
    with signed_in(browser, server) as ctx:
        yield ctx


def run(pg: Any, path: str) -> Any:
    """Press Run and wait for the answer drawn; the request the page sent."""
    with pg.expect_request(lambda r: r.url.endswith(path) and r.method == "POST") as sent:
        pg.click("button.run")
    pg.wait_for_selector('section.result[data-state="ready"], section.result[data-state="error"]')
    return sent.value


def test_a_trend_built_with_a_filter_and_a_breakdown_shows_the_apis_numbers(
    context: Any, server: Server
) -> None:
    pg, console = open_page(context, server, "#/insights/trend")
    pg.fill('[data-field="series[0].event"]', "Document Edited")
    pg.select_option('[data-field="series[0].measure"]', "users")
    pg.click("fieldset.series button.add")
    pg.fill('[data-field="series[1].event"]', "Message Sent")
    pg.select_option('[data-field="series[1].measure"]', "events")
    pg.click("fieldset.filters button.add")
    pg.select_option('[data-field="filters[0].type"]', "event")
    pg.fill('[data-field="filters[0].name"]', "app")
    pg.select_option('[data-field="filters[0].op"]', "in")
    pg.fill('[data-field="filters[0].value"]', "docs, chat")
    pg.select_option('[data-field="breakdown.type"]', "person")
    pg.fill('[data-field="breakdown.name"]', "plan")
    pg.select_option('[data-field="interval"]', "week")
    request = run(pg, "/api/v1/insights/trend")

    # the address holds the request: the body the page sent is the one its hash stands for
    body = body_from_hash(pg.url)
    assert json.loads(request.post_data or "{}") == body
    assert body["series"] == [
        {"event": "Document Edited", "measure": "users"},
        {"event": "Message Sent", "measure": "events"},
    ]
    assert body["filters"] == [{"type": "event", "name": "app", "op": "in", "value": ["docs", "chat"]}]
    assert body["breakdown"] == {"type": "person", "name": "plan"} and body["interval"] == "week"

    answer = api(server, "POST", "/api/v1/insights/trend", body)
    assert set(answer["breakdown_values"]) >= {"free", "pro"}  # the demo's plans
    expected = expected_cells(answer)
    shown = cells(pg)
    assert set(shown) == set(expected) and len(shown) == len(answer["rows"]) > 10
    for key, value in expected.items():
        data_value, text = shown[key]
        assert float(data_value) == value, key
        assert shown_number(text) == value, (key, text)
    # one line per series and plan in the chart, each with a point per week
    assert len(pg.query_selector_all("section.result svg path.line")) == len(answer["rows"]) // len(
        {r["date"] for r in answer["rows"]}
    )

    # reloading the address draws the same view: the same form and the same numbers
    pg.reload()
    pg.wait_for_selector('#page[data-state="ready"]', state="attached")
    assert cells(pg) == shown
    assert pg.input_value('[data-field="series[1].event"]') == "Message Sent"
    assert pg.input_value('[data-field="filters[0].value"]') == "docs, chat"
    assert pg.input_value('[data-field="breakdown.type"]') == "person"
    assert pg.input_value('[data-field="interval"]') == "week"

    # a pasted link (another tab) too
    other, other_console = open_page(context, server, "#" + pg.url.split("#", 1)[1])
    assert cells(other) == shown
    assert console.problems == [] and other_console.problems == []


def test_compare_and_formula_rows_are_the_apis(context: Any, server: Server) -> None:
    series = [{"event": "Message Sent", "measure": "events"}, {"event": "Message Sent", "measure": "users"}]
    link = "#/insights/trend?interval=week&compare=true&formula=A/B&series=" + json.dumps(series)
    pg, console = open_page(context, server, link)
    answer = api(server, "POST", "/api/v1/insights/trend", body_from_hash(pg.url))
    assert answer["compare"] and answer["formula"] == "A/B"
    shown = cells(pg)
    assert {k: float(v[0]) if v[0] != "null" else None for k, v in shown.items()} == expected_cells(answer)
    assert {k[0] for k in shown} == {"current", "previous"} and {k[2] for k in shown} == {"A", "B", "formula"}
    assert console.problems == []


def test_an_api_error_is_shown_next_to_the_form_naming_the_field(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, "#/insights/trend")
    pg.select_option('[data-field="series[0].measure"]', "sum")  # a sum needs a property
    with pg.expect_response(lambda r: r.url.endswith("/api/v1/insights/trend")) as answered:
        pg.click("button.run")
    assert answered.value.status == 400
    error = pg.wait_for_selector(".builder .form-error:not([hidden])")
    assert "series[0].property" in error.inner_text()
    assert pg.get_attribute('[data-field="series[0].property"]', "aria-invalid") == "true"
    assert pg.evaluate("document.activeElement.dataset.field") == "series[0].property"
    assert "refused" in pg.inner_text("section.result")  # never a blank page
    # the field fixed, the error goes
    pg.fill('[data-field="series[0].property"]', "variation_id")
    pg.click("button.run")
    pg.wait_for_selector('section.result[data-state="ready"]')
    assert pg.is_hidden(".builder .form-error")
    # the 400 itself is the only console line (the browser reports failed requests)
    assert all("400" in p for p in console.problems), console.problems


def test_funnel_and_retention_builders_show_the_metrics_api(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, "#/insights/funnel")
    params = hash_params(pg.url)
    assert params["steps"] == "Signed Up,Project Created,Teammate Invited"  # the server's default
    funnel = api(server, "GET", "/api/v1/metrics/funnel", **params)
    shown = [
        shown_number(td.inner_text()) for td in pg.query_selector_all('section.result td[data-key="users"]')
    ]
    assert shown == [r["users"] for r in funnel["rows"]] and shown[0]

    # a step moved with the keyboard, the window changed: the address follows, the numbers too
    pg.focus('button[aria-label="Move step 3 up"]')
    pg.keyboard.press("Enter")
    assert pg.evaluate("document.activeElement.getAttribute('aria-label')") == "Move step 2 up"
    pg.fill('[data-field="window_days"]', "7")
    with pg.expect_response(lambda r: "/api/v1/dashboard/metrics" in r.url):
        pg.click("button.run")
    pg.wait_for_selector('section.result[data-state="ready"]')
    params = hash_params(pg.url)
    assert params["steps"] == "Signed Up,Teammate Invited,Project Created" and params["window_days"] == "7"
    funnel = api(server, "GET", "/api/v1/metrics/funnel", **params)
    shown = [
        shown_number(td.inner_text()) for td in pg.query_selector_all('section.result td[data-key="users"]')
    ]
    assert shown == [r["users"] for r in funnel["rows"]]

    go(pg, "#/insights/retention?period=week")
    params = hash_params(pg.url)
    retention = api(server, "GET", "/api/v1/metrics/retention", **params)
    rows = {r["date"]: r for r in retention["rows"] if r["cohort_size"]}
    shown_rows = pg.query_selector_all("section.result table.heat tbody tr")
    assert len(shown_rows) == len(rows) + 1  # the average first
    for tr in shown_rows[1:]:
        cohort = tr.query_selector('td[data-key="cohort"]').inner_text()
        assert (
            shown_number(tr.query_selector('td[data-key="cohort_size"]').inner_text())
            == rows[cohort]["cohort_size"]
        )
        for cell in rows[cohort]["values"]:
            td = tr.query_selector(f'td[data-key="p{cell["period"]}"]')
            assert float(td.get_attribute("data-value")) == cell["rate"]
            assert td.inner_text() == str(math.floor(cell["rate"] * 100 + 0.5))  # as Math.round
    assert console.problems == []


def test_paths_and_web_analytics_render_the_apis_answers(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, "#/insights/paths")
    assert "Choose the event" in pg.inner_text("section.result")  # no event yet: nothing asked
    pg.fill('[data-field="event"]', "Signed Up")
    pg.fill('[data-field="steps"]', "2")
    run(pg, "/api/v1/insights/paths")
    answer = api(server, "POST", "/api/v1/insights/paths", body_from_hash(pg.url))
    assert answer["anchor"]["users"] > 0
    nodes = [n for step in answer["steps"] for n in step["nodes"]]
    shown = pg.query_selector_all(".path-steps .node")
    assert len(shown) == len(nodes) + 1  # and the anchor
    assert [int(n.get_attribute("data-users") or -1) for n in shown] == [answer["anchor"]["users"]] + [
        n["users"] for n in nodes
    ]
    table_users = [
        shown_number(td.inner_text()) for td in pg.query_selector_all('table.paths td[data-key="users"]')
    ]
    assert table_users == [answer["anchor"]["users"]] + [n["users"] for n in nodes]

    # the summary alone is asked first and drawn while the lists are counted (held here until seen)
    held: list[Any] = []
    asked: list[Any] = []

    def hold(route: Any) -> None:
        lists = json.loads(route.request.post_data or "{}").get("lists", "all")
        asked.append(lists)
        if lists == []:
            route.continue_()
        else:
            held.append(route)

    pg.route("**/api/v1/insights/web", hold)
    pg.evaluate("document.getElementById('page').dataset.state = 'stale'")
    pg.evaluate("window.location.hash = '#/insights/web?compare=true&limit=5'")
    pg.wait_for_selector('section.result [data-counting="lists"]')
    web = api(server, "POST", "/api/v1/insights/web", body_from_hash(pg.url))
    assert web["summary"]["visits"] > 0
    drawn = pg.query_selector('section.result .tile[data-metric="visitors"]')
    shown_visitors = float(drawn.get_attribute("data-value") or "nan") if drawn else None
    assert shown_visitors == web["summary"]["visitors"]
    assert pg.get_attribute("section.result", "data-state") == "partial" and not pg.query_selector(".card")
    assert pg.get_attribute("section.result", "aria-busy") == "true"
    assert asked[0] == []  # the summary first
    while not held:  # the whole answer asked right after the summary's
        pg.wait_for_timeout(20)
    held[0].continue_()
    pg.wait_for_selector('#page[data-state="ready"]', state="attached")
    assert asked == [[], "all"] and not pg.query_selector('[data-counting="lists"]')
    pg.unroute("**/api/v1/insights/web")
    for key in ("visitors", "visits", "pageviews", "bounce_rate", "views_per_visit", "visit_duration"):
        tile = pg.query_selector(f'section.result .tile[data-metric="{key}"]')
        assert tile is not None and float(tile.get_attribute("data-value") or "nan") == web["summary"][key], (
            key
        )
    for key in ("pages", "entry_pages", "sources", "browsers", "countries"):
        rows = pg.query_selector_all(f'.card[data-list="{key}"] tbody tr')
        assert len(rows) == len(web[key]), key
        for tr, row in zip(rows, web[key], strict=True):
            assert shown_number(tr.query_selector('td[data-key="visitors"]').inner_text()) == row["visitors"]
    tiles = pg.inner_text("section.result .tiles")
    assert "vs previous" in tiles or "previous period" in tiles, tiles
    assert console.problems == []


def test_people_search_then_profile_then_timeline(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, "#/people")
    assert pg.query_selector_all("table.people tbody tr")  # the people of the latest events
    pg.fill('[data-field="search"]', "user-0000")
    with pg.expect_response(lambda r: "/api/v1/people?" in r.url):
        pg.click("form.search button[type=submit]")
    found = api(server, "GET", "/api/v1/people", search="user-0000", limit=100)["people"]
    pg.wait_for_selector("text=people found")
    links = pg.query_selector_all("table.people a.person-link")
    assert [a.inner_text() for a in links] == [p["id"] for p in found] and len(found) == 10
    assert "search=user-0000" in pg.url

    pg.evaluate("document.getElementById('page').dataset.state = 'stale'")
    links[1].click()
    pg.wait_for_selector('#page[data-state="ready"]', state="attached")
    person = found[1]["id"]
    assert pg.url.endswith(f"#/people/{person}")
    profile = api(server, "GET", f"/api/v1/people/{person}")
    assert pg.get_attribute('.tile[data-metric="events"]', "data-value") == str(profile["events"])
    assert pg.get_attribute('.tile[data-metric="first_seen"]', "data-value") == profile["first_seen"]
    assert pg.get_attribute('.tile[data-metric="sessions"]', "data-value") == str(
        profile["sessions"]["count"]
    )
    ids = [td.inner_text() for td in pg.query_selector_all('.card[data-card="ids"] td[data-key="id"]')]
    assert ids == [i["id"] for i in profile["ids"]] and len(ids) >= 2  # anonymous id merged
    traits = {
        tr.query_selector('td[data-key="name"]').inner_text(): tr.query_selector(
            'td[data-key="value"]'
        ).inner_text()
        for tr in pg.query_selector_all('.card[data-card="traits"] tbody tr')
    }
    assert traits == profile["traits"]
    assert "onboarding-checklist" in pg.inner_text('.card[data-card="experiments"]')

    timeline = api(server, "GET", f"/api/v1/people/{person}/events", limit=50)
    rows = pg.query_selector_all("table.events tbody tr")
    assert len(rows) == len(timeline["events"])
    assert [r.query_selector('td[data-key="event"]').inner_text() for r in rows] == [
        e["event"] or e["type"] for e in timeline["events"]
    ]
    if timeline["next"]:  # the next page, after the cursor
        with pg.expect_response(lambda r: "before=" in r.url):
            pg.click("button.more")
        older = api(server, "GET", f"/api/v1/people/{person}/events", limit=50, before=timeline["next"])
        wait_until(lambda: len(pg.query_selector_all("table.events tbody tr")) == 50 + len(older["events"]))
    # one event only
    pg.fill('form[aria-label="Filter the timeline"] [data-field="event"]', "Signed Up")
    pg.click('form[aria-label="Filter the timeline"] button[type=submit]')
    wait_until(
        lambda: (
            {r.inner_text() for r in pg.query_selector_all('table.events td[data-key="event"]')}
            == {"Signed Up"}
        )
    )
    assert console.problems == []


def test_the_live_page_shows_a_newly_sent_event(context: Any, server: Server) -> None:
    pg, console = open_page(context, server, "#/live")
    assert len(pg.query_selector_all("table.live-events tbody tr")) == 50
    name = f"Live Page Check {uuid.uuid4().hex[:8]}"
    key = create_key(server.data_dir, "live-page")
    event = {"type": "track", "userId": "live-page-user", "event": name, "properties": {"n": 1}}
    deadline = time.monotonic() + 15
    while True:  # a new key reaches the collector within its refresh interval
        resp = httpx.post(server.url + "/v1/batch", json={"batch": [event]}, auth=(key, ""), timeout=10)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert resp.status_code == 200, resp.text
    row = wait_until(
        lambda: pg.query_selector(f'table.live-events tr:has(td[data-key="event"]:text-is("{name}"))')
    )
    assert "live-page-user" in row.inner_text()
    assert "new" in (row.get_attribute("class") or "")  # marked as arrived since the last refresh
    # filtered by the event's name: that event alone, and the address says so
    pg.fill('[data-field="event"]', name)
    pg.click("form.live-filters button[type=submit]")
    wait_until(lambda: len(pg.query_selector_all("table.live-events tbody tr")) == 1)
    assert hash_params(pg.url)["event"] == name
    latest = api(server, "GET", "/api/v1/events/latest", event=name)
    cell = pg.query_selector('table.live-events td[data-key="receivedAt"]')
    assert cell.get_attribute("data-message-id") == latest["events"][0]["messageId"]
    # pausing stops the refreshes
    pg.click("button.pause")
    time.sleep(1.0)  # a refresh in flight lands
    ticks = pg.get_attribute("section.result", "data-ticks")
    time.sleep(3.5)
    assert pg.get_attribute("section.result", "data-ticks") == ticks
    assert pg.get_attribute("button.pause", "aria-pressed") == "true"
    assert console.problems == []


PAGES = {
    "overview": "#/",
    "trend": '#/insights/trend?interval=week&series=[{"event":"Document Edited","measure":"users"}]'
    '&breakdown={"type":"person","name":"plan"}&compare=true',
    "funnel": "#/insights/funnel",
    "retention": "#/insights/retention",
    "paths": "#/insights/paths?event=Signed Up&steps=3",
    "web": "#/insights/web?compare=true",
    "people": "#/people",
    "person": "#/people/user-00001",
    "live": "#/live",
    "dashboards": "#/dashboards",
}


@pytest.mark.parametrize("width", [375, 1440])
def test_every_page_fits_the_width_without_console_errors(browser: Any, server: Server, width: int) -> None:
    shots = artifacts_dir()
    with signed_in(browser, server, width=width) as ctx:
        for name, link in PAGES.items():
            pg, console = open_page(ctx, server, link)
            time.sleep(0.3)  # charts drawn, fonts settled
            scroll, inner = overflow(pg)
            assert scroll <= inner, (name, width, scroll, inner)
            assert pg.evaluate(UNLABELLED) == [], name
            assert pg.query_selector("h2") is not None, name
            if width == 1440:
                screenshot(pg, shots, f"page-{name}")
            assert console.problems == [], (name, console.problems)
            pg.close()


def test_the_keyboard_reaches_every_builder_control(context: Any, server: Server) -> None:
    pg, console = open_page(
        context, server, '#/insights/trend?filters=[{"type":"event","name":"app","op":"eq","value":"docs"}]'
    )
    reached: list[str] = []
    outlines: dict[str, str] = {}
    for _ in range(60):
        pg.keyboard.press("Tab")
        focused = pg.evaluate(
            "(() => { const n = document.activeElement;"
            " return [n.dataset.field || n.getAttribute('aria-label') || n.textContent.trim().slice(0, 20),"
            " getComputedStyle(n).outlineStyle, n.matches(':focus')]; })()"
        )
        reached.append(focused[0])
        # (a date input's calendar button is a stop of its own, inside the input: the browser draws its ring)
        if focused[2]:
            outlines[focused[0]] = focused[1]
        if focused[0] == "Run":
            break
    for control in (
        "Skip to the content",
        "Insights",
        "start",
        "end",
        "tz",
        "series[0].event",
        "series[0].measure",
        "+ Series",
        "interval",
        "formula",
        "compare",
        "filters[0].type",
        "filters[0].name",
        "filters[0].op",
        "filters[0].value",
        "Remove filter 1",
        "+ Filter",
        "breakdown.type",
        "Run",
    ):
        assert control in reached, (control, reached)
    assert {k: v for k, v in outlines.items() if v != "solid"} == {}  # a visible focus ring on every one
    # Enter in a field runs the query
    pg.focus('[data-field="series[0].event"]')
    pg.keyboard.type("Message Sent")
    with pg.expect_response(lambda r: r.url.endswith("/api/v1/insights/trend")):
        pg.keyboard.press("Enter")
    pg.wait_for_selector('section.result[data-state="ready"]')
    assert json.loads(hash_params(pg.url)["series"])[0]["event"] == "Message Sent"
    assert console.problems == []
