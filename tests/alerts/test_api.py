"""/api/v1/alerts through the in-process app, with a real webhook receiver on loopback: create, list
(each with its last check), change, check now (the webhook sent once per crossing), the history,
delete; every bad input a 400 naming the field, unknown ids a 404; a reader sees the webhook cut to
its host and may change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.alerts.receiver import Receiver
from tests.alerts.test_firing import write_days
from tests.http.asgi import ADMIN, Running, run
from tests.insights.test_saved_api import bearer, save

ALERT_FIELDS = {
    "id",
    "name",
    "insight",
    "insight_name",
    "condition",
    "series",
    "webhook_url",
    "every",
    "state",
    "last_value",
    "last_checked_at",
    "next_check_at",
    "last_check",
    "created_at",
    "updated_at",
}


def test_alerts_api(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    write_days(tmp_path / "data", {today - timedelta(days=2): 9, yesterday: 2})
    query = {
        "start": (today - timedelta(days=7)).isoformat(),
        "end": yesterday.isoformat(),
        "series": [{"event": "Tool Used", "measure": "users"}, {"event": "Tool Used", "measure": "events"}],
    }

    async def scenario(hw: Running) -> None:
        c = hw.client
        trend = await save(hw, "Daily tool users", "trend", query)
        funnel = await save(
            hw, "Funnel", "funnel", {"start": query["start"], "end": query["end"], "steps": ["a", "b"]}
        )
        body: dict[str, Any] = {
            "name": "Few users",
            "insight": trend["id"],
            "condition": {"type": "below", "value": 5, "period": "day"},
            "series": 0,
            "webhook_url": rx.url,
            "every": "hour",
        }
        made = await c.post("/api/v1/alerts", json=body, headers=ADMIN)
        assert made.status_code == 201, made.text
        alert = made.json()
        assert set(alert) == ALERT_FIELDS and alert["state"] is None and alert["last_check"] is None
        assert alert["condition"] == {"type": "below", "value": 5, "period": "day"}
        assert alert["insight_name"] == "Daily tool users" and alert["webhook_url"] == rx.url
        defaults = await c.post(
            "/api/v1/alerts",
            json={k: v for k, v in body.items() if k not in ("series", "every")} | {"name": "Defaults"},
            headers=ADMIN,
        )
        assert defaults.json()["series"] == 0 and defaults.json()["every"] == "hour"
        assert (await c.delete(f"/api/v1/alerts/{defaults.json()['id']}", headers=ADMIN)).status_code == 204

        checked = await c.post(f"/api/v1/alerts/{alert['id']}/check", headers=ADMIN)
        assert checked.status_code == 200, checked.text
        found = checked.json()
        assert (found["state"], found["value"], found["previous_value"]) == ("firing", 2, 9)
        assert (found["notification"], found["delivered"], found["period"]["start"]) == (
            "firing",
            True,
            yesterday.isoformat(),
        )
        assert len(rx.received) == 1 and rx.received[0]["headwater"]["value"] == 2
        listed = (await c.get("/api/v1/alerts", headers=ADMIN)).json()["alerts"]
        assert len(listed) == 1 and listed[0]["state"] == "firing" and listed[0]["last_value"] == 2
        assert (await c.get(f"/api/v1/alerts?insight={trend['id']}", headers=ADMIN)).json()[
            "alerts"
        ] == listed
        assert (await c.get(f"/api/v1/alerts?insight={funnel['id']}", headers=ADMIN)).json() == {"alerts": []}
        assert listed[0]["last_check"]["summary"] == found["summary"] and listed[0]["last_checked_at"]
        next_at = datetime.fromisoformat(listed[0]["next_check_at"].replace("Z", "+00:00"))
        assert timedelta(minutes=59) < next_at - datetime.now(UTC) <= timedelta(hours=1)  # checked: not due
        again = (await c.post(f"/api/v1/alerts/{alert['id']}/check", headers=ADMIN)).json()
        assert again["state"] == "firing" and again["notification"] is None and len(rx.received) == 1

        # another series, a threshold it does not cross: it recovers, said once
        changed = await c.put(
            f"/api/v1/alerts/{alert['id']}",
            json={"series": 1, "condition": {"type": "above", "value": 100}},
            headers=ADMIN,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["series"] == 1 and changed.json()["name"] == "Few users"
        assert changed.json()["next_check_at"] is None and changed.json()["state"] == "firing"
        recovered = (await c.post(f"/api/v1/alerts/{alert['id']}/check", headers=ADMIN)).json()
        assert (recovered["state"], recovered["notification"], recovered["series"]) == (
            "ok",
            "recovered",
            "B",
        )
        assert len(rx.received) == 2 and "recovered" in rx.received[1]["text"]
        dry = await c.post(f"/api/v1/alerts/{alert['id']}/check?dry_run=true", headers=ADMIN)
        assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["event"] is None

        history = (await c.get(f"/api/v1/alerts/{alert['id']}/events", headers=ADMIN)).json()
        assert history["alert"] == alert["id"]
        assert [
            (e["previous_state"], e["state"], e["notification"], e["delivered"]) for e in history["events"]
        ] == [
            ("firing", "ok", "recovered", True),
            (None, "firing", "firing", True),
        ]
        assert history["events"][1]["value"] == 2 and history["events"][1]["error"] is None
        one = (await c.get(f"/api/v1/alerts/{alert['id']}/events?limit=1", headers=ADMIN)).json()
        assert len(one["events"]) == 1

        bad: list[tuple[str, str, Any, int, str]] = [
            ("POST", "/api/v1/alerts", {k: v for k, v in body.items() if k != "name"}, 400, "'name'"),
            ("POST", "/api/v1/alerts", {**body, "insight": "nope"}, 400, "'insight'"),
            ("POST", "/api/v1/alerts", {**body, "insight": funnel["id"]}, 400, "'insight'"),
            (
                "POST",
                "/api/v1/alerts",
                {**body, "condition": {"type": "between", "value": 1}},
                400,
                "'condition.type'",
            ),
            ("POST", "/api/v1/alerts", {**body, "condition": {"type": "above"}}, 400, "'condition.value'"),
            (
                "POST",
                "/api/v1/alerts",
                {**body, "condition": {"type": "change", "value": 5, "period": "year"}},
                400,
                "'condition.period'",
            ),
            ("POST", "/api/v1/alerts", {**body, "series": 2}, 400, "'series'"),
            ("POST", "/api/v1/alerts", {**body, "webhook_url": "file:///etc/passwd"}, 400, "'webhook_url'"),
            (
                "POST",
                "/api/v1/alerts",
                {**body, "webhook_url": "gopher://hooks.example.com/x"},
                400,
                "'webhook_url'",
            ),
            ("POST", "/api/v1/alerts", {**body, "every": "minute"}, 400, "'every'"),
            ("POST", "/api/v1/alerts", {**body, "mute": True}, 400, "'mute'"),
            ("POST", "/api/v1/alerts", "an alert", 400, "JSON object"),
            ("PUT", f"/api/v1/alerts/{alert['id']}", {"webhook_url": "ssh://x"}, 400, "'webhook_url'"),
            ("PUT", f"/api/v1/alerts/{alert['id']}", {"id": "other"}, 400, "'id'"),
            ("POST", f"/api/v1/alerts/{alert['id']}/check?dry_run=maybe", None, 400, "'dry_run'"),
            ("GET", f"/api/v1/alerts/{alert['id']}/events?limit=0", None, 400, "'limit'"),
            ("GET", "/api/v1/alerts/ghost", None, 404, "'ghost'"),
            ("PUT", "/api/v1/alerts/ghost", {"name": "x"}, 404, "'ghost'"),
            ("DELETE", "/api/v1/alerts/ghost", None, 404, "'ghost'"),
            ("POST", "/api/v1/alerts/ghost/check", None, 404, "'ghost'"),
            ("GET", "/api/v1/alerts/ghost/events", None, 404, "'ghost'"),
        ]
        for method, url, sent, status, named in bad:
            got = await c.request(method, url, json=sent, headers=ADMIN)
            assert got.status_code == status and named in got.json()["error"]["message"], (
                url,
                sent,
                got.text,
            )
        assert len((await c.get("/api/v1/alerts", headers=ADMIN)).json()["alerts"]) == 1

        # a reader sees alerts, the webhook cut to its host, and changes nothing; an analyst does
        viewer = await bearer(hw, "viewer", {"read"})
        seen = (await c.get("/api/v1/alerts", headers=viewer)).json()["alerts"][0]
        assert seen["webhook_url"] == f"http://127.0.0.1:{rx.port}/..." and seen["state"] == "ok"
        assert "secret-path" not in (await c.get(f"/api/v1/alerts/{alert['id']}", headers=viewer)).text
        for method, url in (
            ("POST", "/api/v1/alerts"),
            ("PUT", f"/api/v1/alerts/{alert['id']}"),
            ("POST", f"/api/v1/alerts/{alert['id']}/check"),
            ("DELETE", f"/api/v1/alerts/{alert['id']}"),
        ):
            assert (await c.request(method, url, json=body, headers=viewer)).status_code == 403, (method, url)
        assert (await c.get(f"/api/v1/alerts/{alert['id']}/events", headers=viewer)).status_code == 200
        analyst = await bearer(hw, "analyst", {"read", "audiences"})
        theirs = await c.post("/api/v1/alerts", json={**body, "name": "Theirs"}, headers=analyst)
        assert theirs.status_code == 201 and theirs.json()["webhook_url"] == rx.url

        # the insight watched stays a trend; deleting it deletes its alerts (and says so)
        kept = await c.put(
            f"/api/v1/insights/saved/{trend['id']}",
            json={"kind": "web", "query": {"start": query["start"], "end": query["end"]}},
            headers=ADMIN,
        )
        assert kept.status_code == 400 and "'kind'" in kept.json()["error"]["message"]
        gone = await c.delete(f"/api/v1/insights/saved/{trend['id']}", headers=ADMIN)
        assert sorted(gone.json()["removed_alerts"]) == sorted([alert["id"], theirs.json()["id"]])
        assert (await c.get(f"/api/v1/alerts/{alert['id']}", headers=ADMIN)).status_code == 404
        assert (await c.get("/api/v1/alerts", headers=ADMIN)).json() == {"alerts": []}

    with Receiver() as rx:
        run(tmp_path, scenario)
