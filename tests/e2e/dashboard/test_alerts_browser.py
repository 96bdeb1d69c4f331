"""Alerts made from the Dashboards page in a real Chromium against a real server over `headwater demo`
data (this module's own) and a real webhook receiver on loopback: an alert created through the form
on a saved trend, checked with "Check now" (firing on the page, one Slack-compatible message at the
receiver), a refused field said under that field, its threshold edited so it recovers (ok, the
recovery message), its history, its deletion after a confirm step; a viewer sees the alerts and
their history with no control that changes them; the page fits 375 and 1440 px.

The server runs with HEADWATER_ROLE=http: no schedule runs in it, so no background check of the
new alert races the page's "Check now" (the schedule's checks are tested in tests/alerts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.alerts.receiver import Receiver
from tests.e2e.dashboard.pages import (
    DEMO_DAYS,
    DEMO_USERS,
    UNLABELLED,
    api,
    open_page,
    overflow,
    screenshot,
    shown_number,
    signed_in,
    wait_until,
)
from tests.e2e.dashboard.support import TOKEN, artifacts_dir
from tests.helpers import Server, cli

SESSION = "headwater_session"
PASSWORD = "correct horse battery"
DOCS_USERS = {
    "series": [{"event": None, "measure": "users"}, {"event": "Document Edited", "measure": "events"}],
    "filters": [{"type": "event", "name": "app", "op": "eq", "value": "docs"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("alerts") / "data"
    cli(data, "demo", "--users", DEMO_USERS, "--days", DEMO_DAYS)
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN, "HEADWATER_ROLE": "http"})
    try:
        srv.start(timeout=60)
        wait_until(
            lambda: all(
                v.get("state") == "caught_up"
                for v in srv.checks().values()
                if isinstance(v, dict) and "lag_events" in v
            ),
            timeout=120,
        )
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def insights(server: Server) -> dict[str, str]:
    """Two saved trends and a funnel (which no alert may watch); name -> id."""
    today = date.today()
    span = {"start": (today - timedelta(days=29)).isoformat(), "end": today.isoformat(), "tz": "UTC"}
    specs: list[tuple[str, str, dict[str, Any]]] = [
        ("Docs users", "trend", DOCS_USERS),
        ("Sign-ups", "trend", {"series": [{"event": "Signed Up", "measure": "users"}]}),
        ("Sign-up funnel", "funnel", {"steps": ["Signed Up", "Project Created"]}),
    ]
    out = {}
    for name, kind, query in specs:
        body = {"name": name, "kind": kind, "query": {**span, **query}}
        out[name] = api(server, "POST", "/api/v1/insights/saved", body)["id"]
    return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def context(browser: Any, server: Server) -> Iterator[Any]:
    with signed_in(browser, server) as ctx:
        yield ctx


def alerts_ready(pg: Any) -> None:
    pg.wait_for_selector('section.alerts[data-state="ready"]', state="attached")


def row(pg: Any, name: str) -> Any:
    return pg.wait_for_selector(f'table.alerts tbody tr:has(td[data-key="name"]:text-is("{name}"))')


def press(pg: Any, selector: str) -> None:
    """Focus a control and press Enter: the keyboard works it."""
    pg.focus(selector)
    pg.keyboard.press("Enter")


def live_text(pg: Any) -> str:
    return str(pg.inner_text("section.alerts .alert-live"))


def error_under(pg: Any, field: str) -> str:
    """The error shown in the field's own box (under its control), with the control marked."""
    box = pg.wait_for_selector(f'dialog .field:has([data-field="{field}"]) .form-error:not([hidden])')
    assert pg.get_attribute(f'dialog [data-field="{field}"]', "aria-invalid") == "true"
    assert pg.evaluate("document.activeElement.dataset.field") == field
    return str(box.inner_text())


def the_alert(server: Server, name: str) -> dict[str, Any]:
    (found,) = [a for a in api(server, "GET", "/api/v1/alerts")["alerts"] if a["name"] == name]
    assert isinstance(found, dict)
    return found


def check_now(pg: Any, alert_id: str) -> Any:
    """Press the row's Check now; the evaluation drawn under the table."""
    pg.evaluate("document.querySelector('.alert-details').replaceChildren()")
    with pg.expect_response(lambda r: r.url.endswith("/check") and r.request.method == "POST"):
        press(pg, f'button.check[data-alert="{alert_id}"]')
    return pg.wait_for_selector(".alert-detail.check")


def slack_message(body: dict[str, Any], notification: str, alert_name: str) -> None:
    """A message Slack's incoming webhooks take: text, and a section block of mrkdwn."""
    assert isinstance(body["text"], str) and f"Alert '{alert_name}'" in body["text"]
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert body["text"] in block["text"]["text"]
    assert body["headwater"]["notification"] == notification
    assert body["headwater"]["alert"]["name"] == alert_name


def test_an_alert_made_checked_edited_and_deleted_on_the_page(
    context: Any, server: Server, insights: dict[str, str], receiver: Receiver
) -> None:
    pg, console = open_page(context, server, "#/dashboards")
    alerts_ready(pg)
    assert pg.get_attribute("section.alerts", "data-writer") == "true"
    assert "No alert yet" in pg.inner_text("section.alerts")

    # the form: only saved trends are offered; a series picker of the chosen trend
    press(pg, "button.new-alert")
    pg.wait_for_selector("dialog[open] form.alert-form")
    offered = pg.eval_on_selector_all('dialog [data-field="insight"] option', "os => os.map(o => o.text)")
    assert offered == ["Docs users", "Sign-ups"]
    pg.select_option('dialog [data-field="insight"]', insights["Docs users"])
    series = pg.eval_on_selector_all('dialog [data-field="series"] option', "os => os.map(o => o.text)")
    assert [s[:1] for s in series] == ["A", "B"] and "document edited" in series[1].lower()
    assert pg.is_hidden('dialog .field:has([data-field="condition.direction"])')
    pg.select_option('dialog [data-field="condition.type"]', "change")
    assert pg.is_visible('dialog .field:has([data-field="condition.direction"])')
    pg.select_option('dialog [data-field="condition.type"]', "above")

    # refusals: each said under the field the API names, the control marked and focused
    pg.fill('dialog [data-field="name"]', "Docs users seen")
    pg.fill('dialog [data-field="webhook_url"]', receiver.url)
    pg.click("dialog button[type=submit]")
    assert "condition.value" in error_under(pg, "condition.value")
    pg.fill('dialog [data-field="condition.value"]', "0")
    pg.fill('dialog [data-field="webhook_url"]', "ftp://127.0.0.1/hook")
    pg.click("dialog button[type=submit]")
    assert "webhook_url" in error_under(pg, "webhook_url")
    assert pg.get_attribute('dialog [data-field="condition.value"]', "aria-invalid") is None
    assert len(pg.query_selector_all("dialog .form-error:not([hidden])")) == 1
    pg.screenshot(path=str(artifacts_dir() / "page-alerts-error-1440.png"))
    assert api(server, "GET", "/api/v1/alerts")["alerts"] == []
    pg.fill('dialog [data-field="webhook_url"]', receiver.url)
    with pg.expect_response(lambda r: r.url.endswith("/api/v1/alerts") and r.request.method == "POST"):
        pg.click("dialog button[type=submit]")
    pg.wait_for_selector("dialog", state="detached")
    alert = the_alert(server, "Docs users seen")
    assert (alert["insight"], alert["series"], alert["every"]) == (insights["Docs users"], 0, "hour")
    assert alert["condition"] == {"type": "above", "value": 0, "period": "day"}
    assert alert["webhook_url"] == receiver.url
    tr = row(pg, "Docs users seen")
    assert tr.query_selector('td[data-key="state"]').inner_text() == "not checked yet"
    assert "Created the alert" in live_text(pg)

    # Check now: firing, on the page and at the receiver (one Slack-compatible message)
    found = check_now(pg, alert["id"])
    assert found.get_attribute("data-state") == "firing"
    assert found.get_attribute("data-notification") == "firing"
    assert "took the firing message" in found.inner_text()
    wait_until(lambda: "firing" in pg.inner_text(f'table.alerts tr[data-alert="{alert["id"]}"]'))
    assert "checked: firing" in live_text(pg)
    assert pg.evaluate("document.activeElement.dataset.action") == "check"  # the focus stayed
    assert pg.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # and shows
    alert = the_alert(server, "Docs users seen")
    assert alert["state"] == "firing" and alert["last_value"] > 0
    tr = row(pg, "Docs users seen")
    assert shown_number(tr.query_selector('td[data-key="last_value"]').inner_text()) == alert["last_value"]
    assert "1 firing" in pg.inner_text("section.alerts .status")
    assert len(receiver.received) == 1
    slack_message(receiver.received[0], "firing", "Docs users seen")
    assert receiver.received[0]["headwater"]["value"] == alert["last_value"]

    # edit: a threshold it does not reach; Check now: ok, and the recovery message
    press(pg, f'button.edit[data-alert="{alert["id"]}"]')
    pg.wait_for_selector("dialog[open] form.alert-form")
    assert pg.input_value('dialog [data-field="name"]') == "Docs users seen"
    assert pg.input_value('dialog [data-field="webhook_url"]') == receiver.url
    assert pg.input_value('dialog [data-field="condition.value"]') == "0"
    assert pg.input_value('dialog [data-field="insight"]') == insights["Docs users"]
    pg.fill('dialog [data-field="condition.value"]', "1000000")
    with pg.expect_response(lambda r: r.request.method == "PUT"):
        pg.click("dialog button[type=submit]")
    pg.wait_for_selector("dialog", state="detached")
    assert pg.evaluate("document.activeElement.dataset.action") == "edit"  # back where it was
    assert the_alert(server, "Docs users seen")["condition"]["value"] == 1_000_000
    wait_until(lambda: "1,000,000" in row(pg, "Docs users seen").inner_text())
    found = check_now(pg, alert["id"])
    assert found.get_attribute("data-state") == "ok"
    assert found.get_attribute("data-notification") == "recovered"
    wait_until(lambda: row(pg, "Docs users seen").query_selector('td[data-key="state"]').inner_text() == "ok")
    assert len(receiver.received) == 2
    slack_message(receiver.received[1], "recovered", "Docs users seen")
    assert "recovered" in receiver.received[1]["text"]
    # checked again: nothing more is sent
    found = check_now(pg, alert["id"])
    assert found.get_attribute("data-notification") == "" and "Nothing sent" in found.inner_text()
    assert len(receiver.received) == 2

    # the history: newest first, as the API has it
    press(pg, f'button.history[data-alert="{alert["id"]}"]')
    history = pg.wait_for_selector(".alert-detail.history")
    events = api(server, "GET", f"/api/v1/alerts/{alert['id']}/events")["events"]
    assert [(e["previous_state"], e["state"], e["notification"], e["delivered"]) for e in events] == [
        ("firing", "ok", "recovered", True),
        (None, "firing", "firing", True),
    ]
    rows = history.query_selector_all("tbody tr")
    assert len(rows) == 2
    assert "recovered message delivered" in rows[0].inner_text()
    assert "firing message delivered" in rows[1].inner_text()
    assert "not checked yet" in rows[1].inner_text() and "firing" in rows[1].inner_text()
    assert [shown_number(r.query_selector('td[data-key="value"]').inner_text()) for r in rows] == [
        e["value"] for e in events
    ]
    assert pg.evaluate("document.activeElement.tagName") == "H4"  # the focus went to the history
    check_now(pg, alert["id"])
    press(pg, f'button.history[data-alert="{alert["id"]}"]')
    pg.wait_for_selector(".alert-detail.history")
    pg.evaluate("window.scrollTo(0, 0)")
    screenshot(pg, artifacts_dir(), "page-alerts-1440")

    # delete: a confirm step (Cancel keeps it), then gone
    press(pg, f'button.delete[data-alert="{alert["id"]}"]')
    pg.wait_for_selector("dialog[open]")
    assert pg.evaluate("document.activeElement.textContent") == "Cancel"
    pg.keyboard.press("Enter")
    pg.wait_for_selector("dialog", state="detached")
    assert len(api(server, "GET", "/api/v1/alerts")["alerts"]) == 1
    press(pg, f'button.delete[data-alert="{alert["id"]}"]')
    with pg.expect_response(lambda r: r.request.method == "DELETE"):
        pg.click('dialog button:text-is("Delete")')
    pg.wait_for_selector("table.alerts", state="detached")
    assert api(server, "GET", "/api/v1/alerts")["alerts"] == []
    assert "Deleted the alert “Docs users seen”" in live_text(pg)
    assert pg.query_selector(".alert-detail") is None
    assert pg.evaluate("document.activeElement.classList.contains('new-alert')")
    assert len(receiver.received) == 2
    # the two refusals (400) only
    assert [p for p in console.problems if "400" not in p] == [], console.problems
    assert len([p for p in console.problems if p.startswith("response: 400")]) == 2, console.problems


def viewer_session(server: Server, email: str) -> dict[str, str]:
    """A viewer invited by the admin token who chose a password: their dashboard session."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    made = httpx.post(server.url + "/api/v1/users", json={"email": email, "role": "viewer"}, headers=headers)
    assert made.status_code == 201, made.text
    invitation = made.json()["invitation"]
    form = {"invitation": invitation, "password": PASSWORD, "confirm": PASSWORD}
    accepted = httpx.post(server.url + "/dashboard/invite", data=form, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text[:300]
    return {"name": SESSION, "value": accepted.cookies[SESSION], "url": server.url}


def an_alert(server: Server, insight: str, receiver: Receiver, name: str) -> dict[str, Any]:
    body = {"name": name, "insight": insight, "condition": {"type": "below", "value": 1}}
    made = api(server, "POST", "/api/v1/alerts", {**body, "webhook_url": receiver.url})
    api(server, "POST", f"/api/v1/alerts/{made['id']}/check")
    assert isinstance(made, dict)
    return made


def test_a_viewer_reads_alerts_and_their_history_and_changes_nothing(
    browser: Any, server: Server, insights: dict[str, str], receiver: Receiver
) -> None:
    alert = an_alert(server, insights["Sign-ups"], receiver, "Few sign-ups")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.add_cookies([viewer_session(server, "vera@example.com")])
    try:
        pg, console = open_page(ctx, server, "#/dashboards")
        alerts_ready(pg)
        assert pg.get_attribute("section.alerts", "data-writer") == "false"
        state = row(pg, "Few sign-ups").query_selector('td[data-key="state"]').inner_text()
        assert state == the_alert(server, "Few sign-ups")["state"]
        assert pg.is_hidden("button.new-alert")
        for action in ("check", "edit", "delete"):
            assert pg.query_selector(f"section.alerts button.{action}") is None, action
        press(pg, f'button.history[data-alert="{alert["id"]}"]')
        history = pg.wait_for_selector(".alert-detail.history")
        events = api(server, "GET", f"/api/v1/alerts/{alert['id']}/events")["events"]
        assert int(history.get_attribute("data-events") or -1) == len(events)
        press(pg, ".alert-detail.history button.close")
        assert pg.query_selector(".alert-detail") is None
        assert pg.evaluate("document.activeElement.dataset.action") == "history"
        assert console.problems == [], console.problems
    finally:
        ctx.close()
        api(server, "DELETE", f"/api/v1/alerts/{alert['id']}")


def test_a_dashboard_offers_the_trends_on_it(context: Any, server: Server, insights: dict[str, str]) -> None:
    tiles = [{"insight": insights["Sign-ups"]}, {"insight": insights["Sign-up funnel"]}]
    board = api(server, "POST", "/api/v1/dashboards", {"name": "Growth", "tiles": tiles})
    try:
        pg, console = open_page(context, server, f"#/dashboards/{board['id']}")
        alerts_ready(pg)
        assert "No alert watches these insights." in pg.inner_text("section.alerts")
        press(pg, "button.new-alert")
        pg.wait_for_selector("dialog[open] form.alert-form")
        offered = pg.eval_on_selector_all('dialog [data-field="insight"] option', "os => os.map(o => o.text)")
        assert offered == ["Sign-ups"]
        pg.keyboard.press("Escape")
        pg.wait_for_selector("dialog", state="detached")
        assert pg.evaluate("document.activeElement.classList.contains('new-alert')")
        assert console.problems == [], console.problems
    finally:
        api(server, "DELETE", f"/api/v1/dashboards/{board['id']}")


@pytest.mark.parametrize("width", [375, 1440])
def test_the_alerts_fit_the_width(
    browser: Any, server: Server, insights: dict[str, str], receiver: Receiver, width: int
) -> None:
    alert = an_alert(server, insights["Docs users"], receiver, f"A long alert name at {width} px wide")
    try:
        with signed_in(browser, server, width=width) as ctx:
            pg, console = open_page(ctx, server, "#/dashboards")
            alerts_ready(pg)
            check_now(pg, alert["id"])
            press(pg, f'button.history[data-alert="{alert["id"]}"]')
            pg.wait_for_selector(".alert-detail.history")
            scroll, inner = overflow(pg)
            assert scroll <= inner, (width, scroll, inner)
            # nor inside: each alert's line (and each event's) fits its table's width
            inside = "ws => ws.map(w => w.scrollWidth - w.clientWidth)"
            assert set(pg.eval_on_selector_all("section.alerts .table-wrap", inside)) == {0}
            assert pg.evaluate(UNLABELLED) == []
            press(pg, f'button.edit[data-alert="{alert["id"]}"]')
            pg.wait_for_selector("dialog[open] form.alert-form")
            assert pg.evaluate(UNLABELLED) == []
            box = pg.eval_on_selector("dialog[open]", "d => d.getBoundingClientRect().right")
            assert box <= inner and overflow(pg)[0] <= inner
            pg.screenshot(path=str(artifacts_dir() / f"page-alerts-form-{width}.png"))
            pg.keyboard.press("Escape")  # the dialog closes from the keyboard
            pg.wait_for_selector("dialog", state="detached")
            assert pg.evaluate("document.activeElement.dataset.action") == "edit"
            screenshot(pg, artifacts_dir(), f"page-alerts-fit-{width}")
            assert console.problems == [], console.problems
    finally:
        api(server, "DELETE", f"/api/v1/alerts/{alert['id']}")
