"""Alerts checked against a real webhook receiver on loopback (tests/alerts/receiver.py), over a real
log and the embedded store: a webhook once when the state crosses into firing and once on recovery,
nothing while it holds; a receiver that fails (an error status, a closed port, no answer in time)
is recorded as the event's error and the message is sent again at the next check; a check that
fails is the state error; and the schedule's service (AlertChecks) checks what is due, once even
when two of them run."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.alerts.checks import AlertChecks, check_alert
from headwater.alerts.webhook import post_webhook
from headwater.config import Settings
from headwater.stores.sql.alerts import AlertCatalog
from headwater.stores.sql.saved import SavedCatalog
from tests.alerts.receiver import Receiver
from tests.batch.logdata import ev, write_log
from tests.http.asgi import running, settings_for

#: "Tool Used" users per day
DAYS = {
    date(2026, 5, 1): 3,
    date(2026, 5, 2): 10,
    date(2026, 5, 3): 2,
    date(2026, 5, 4): 1,
    date(2026, 5, 5): 8,
}
QUERY = {"start": "2026-05-01", "end": "2026-05-05", "series": [{"event": "Tool Used", "measure": "users"}]}
BELOW_5 = {"type": "below", "value": 5, "period": "day"}


def write_days(data: Path, days: dict[date, int]) -> None:
    write_log(
        data,
        [
            ev(f"{day.isoformat()}T10:{i:02d}:00.000Z", user=f"u{i}", event="Tool Used")
            for day, n in days.items()
            for i in range(n)
        ],
    )


def morning_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(days=1)


class Setup:
    def __init__(self, tmp_path: Path, webhook_url: str, condition: dict[str, Any] = BELOW_5) -> None:
        self.settings: Settings = settings_for(tmp_path / "data")
        write_days(self.settings.data_dir, DAYS)
        url = self.settings.effective_database_url
        self.saved = SavedCatalog(url)
        self.alerts = AlertCatalog(db=self.saved.db)
        self.insight = self.saved.create_insight("Daily tool users", "trend", QUERY)
        self.alert = self.alerts.create("Few users", self.insight.id, condition, 0, webhook_url, "hour")
        self.checks = 0

    def check(self, day: date, **kwargs: Any) -> dict[str, Any]:
        """A check on the morning after ``day`` (so ``day`` is the last complete one), a minute
        after the one before."""
        alert = self.alerts.alert(self.alert.id)
        assert alert is not None
        self.checks += 1
        now = morning_after(day) + timedelta(minutes=self.checks)
        return check_alert(self.settings, self.alerts, alert, now, **kwargs)

    def close(self) -> None:
        self.saved.close()


def test_a_webhook_once_into_firing_and_once_on_recovery(tmp_path: Path) -> None:
    with Receiver() as rx:
        s = Setup(tmp_path, rx.url)
        try:
            first = s.check(date(2026, 5, 2))  # 10 users: ok, nothing to say
            assert (first["state"], first["value"], first["notification"]) == ("ok", 10, None)
            assert first["previous_value"] == 3 and first["change"] == 233.33 and rx.received == []

            fired = s.check(date(2026, 5, 3))  # 2 users: firing
            assert (fired["state"], fired["notification"], fired["delivered"]) == ("firing", "firing", True)
            assert len(rx.received) == 1
            body = rx.received[0]
            assert body["text"] == (
                "Alert 'Few users' is firing: 'Daily tool users' (series A) was 2 on 2026-05-03"
                " (alert when below 5)."
            )
            assert body["headwater"]["value"] == 2 and body["headwater"]["alert"]["id"] == s.alert.id
            assert body["headwater"]["period"] == {"type": "day", "start": "2026-05-03", "end": "2026-05-03"}
            assert body["blocks"][0]["text"]["text"].startswith("*Alert firing*")
            assert rx.headers[0]["Content-Type"] == "application/json"
            assert rx.headers[0]["User-Agent"].startswith("Headwater/")

            for day in (date(2026, 5, 3), date(2026, 5, 4)):  # still firing (2, then 1): no spam
                again = s.check(day)
                assert again["state"] == "firing" and again["notification"] is None
            assert len(rx.received) == 1

            recovered = s.check(date(2026, 5, 5))  # 8 users: recovered, said once
            assert (recovered["state"], recovered["notification"], recovered["delivered"]) == (
                "ok",
                "recovered",
                True,
            )
            assert len(rx.received) == 2 and rx.received[1]["text"].startswith("Alert 'Few users' recovered:")
            assert s.check(date(2026, 5, 5))["notification"] is None and len(rx.received) == 2

            stored = s.alerts.alert(s.alert.id)
            assert stored is not None and stored.state == "ok" and stored.notified == "ok"
            assert stored.last_check is not None and stored.last_check["value"] == 8
            history = s.alerts.events(s.alert.id)
            assert [(e.previous_state, e.state, e.notification, e.delivered) for e in history] == [
                ("firing", "ok", "recovered", True),
                ("ok", "firing", "firing", True),
                (None, "ok", None, False),
            ]
            assert history[1].evaluation["value"] == 2 and history[1].error is None
        finally:
            s.close()


def test_a_webhook_that_fails_is_recorded_and_sent_again_at_the_next_check(tmp_path: Path) -> None:
    rx = Receiver().start()
    s = Setup(tmp_path, rx.url)
    try:
        rx.status = 500  # the receiver refuses it
        failed = s.check(date(2026, 5, 3))
        assert (
            failed["state"] == "firing"
            and failed["notification"] == "firing"
            and failed["delivered"] is False
        )
        assert failed["delivery_error"] == "127.0.0.1 answered HTTP 500: invalid_token"
        assert len(rx.refused) == 1 and rx.received == []
        stored = s.alerts.alert(s.alert.id)
        assert stored is not None and stored.state == "firing" and stored.notified == "ok"

        rx.stop()  # the receiver is down: connection refused
        down = s.check(date(2026, 5, 4))
        assert down["notification"] == "firing" and down["delivered"] is False
        assert down["delivery_error"].startswith("could not reach 127.0.0.1: ")
        assert "secret-path" not in down["delivery_error"]  # a webhook's path is its secret

        rx.start()
        rx.status, rx.delay = 200, 1.0  # up, but slower than the sender waits
        slow = s.check(date(2026, 5, 4), send=functools.partial(post_webhook, timeout=0.3))
        assert (
            slow["delivered"] is False and slow["delivery_error"] == "127.0.0.1 did not answer within 0.3 s"
        )

        rx.delay = 0.0
        rx.received.clear()
        delivered = s.check(date(2026, 5, 4))  # back: the message goes out now, once
        assert delivered["notification"] == "firing" and delivered["delivered"] is True
        assert len(rx.received) == 1 and "is firing" in rx.received[0]["text"]
        assert s.check(date(2026, 5, 4))["notification"] is None and len(rx.received) == 1

        history = s.alerts.events(s.alert.id)
        assert [(e.notification, e.delivered) for e in history] == [("firing", True)] + [
            ("firing", False)
        ] * 3
        assert history[-1].error == "127.0.0.1 answered HTTP 500: invalid_token"
        assert history[-2].error is not None and history[-2].error.startswith("could not reach 127.0.0.1")
    finally:
        s.close()
        rx.stop()


def test_a_check_that_fails_is_the_state_error(tmp_path: Path) -> None:
    with Receiver() as rx:
        s = Setup(tmp_path, rx.url)
        try:  # a cohort the saved query names was deleted since (or never made)
            query = {**QUERY, "filters": [{"type": "cohort", "name": "gone", "op": "eq", "value": True}]}
            s.saved.update_insight(s.insight.id, "Daily tool users", "trend", query, "")
            for _ in range(2):
                found = s.check(date(2026, 5, 3))
                assert (
                    found["state"] == "error" and "'gone'" in found["error"] and found["notification"] is None
                )
            assert rx.received == []
            history = s.alerts.events(s.alert.id)
            assert len(history) == 1 and history[0].state == "error" and "'gone'" in (history[0].error or "")
            s.saved.update_insight(s.insight.id, "Daily tool users", "trend", QUERY, "")
            assert s.check(date(2026, 5, 3))["notification"] == "firing" and len(rx.received) == 1
        finally:
            s.close()


def test_a_dry_run_sends_and_records_nothing(tmp_path: Path) -> None:
    with Receiver() as rx:
        s = Setup(tmp_path, rx.url)
        try:
            found = s.check(date(2026, 5, 3), dry_run=True)
            assert (
                found["state"] == "firing" and found["notification"] == "firing" and found["dry_run"] is True
            )
            assert found["message"].startswith("Alert 'Few users' is firing")
            assert rx.received == [] and s.alerts.events(s.alert.id) == []
            stored = s.alerts.alert(s.alert.id)
            assert stored is not None and stored.state is None
        finally:
            s.close()


def test_the_schedule_checks_what_is_due_once_even_with_two_services(tmp_path: Path) -> None:
    """Two services over one store (two hosts on one control plane): each due alert is checked
    once; the next check is an interval away; an alert not due is left alone."""
    today = datetime.now(UTC).date()
    with Receiver() as rx:
        s = Setup(tmp_path, rx.url)
        try:
            write_days(s.settings.data_dir, {today - timedelta(days=2): 9, today - timedelta(days=1): 2})
            later = s.alerts.create("Later", s.insight.id, BELOW_5, 0, rx.url, "day")
            s.alerts.claim(later, datetime.now(UTC) + timedelta(hours=5))  # not due for 5 hours

            async def scenario() -> None:
                services = [AlertChecks(s.settings, poll_seconds=0.05) for _ in range(2)]
                for service in services:
                    await service.start()
                try:
                    deadline = asyncio.get_running_loop().time() + 30
                    while not rx.received and asyncio.get_running_loop().time() < deadline:
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.5)  # several more rounds of both services
                finally:
                    for service in services:
                        await service.stop()
                assert sum(service.checked for service in services) == 1
                ready, details = services[0].status()
                assert ready and set(details) == {"last_run", "checked", "firing", "last_error"}

            asyncio.run(scenario())
            assert (
                len(rx.received) == 1
                and "was 2 on " + (today - timedelta(days=1)).isoformat() in rx.received[0]["text"]
            )
            stored = s.alerts.alert(s.alert.id)
            assert stored is not None and stored.state == "firing" and stored.next_check_at is not None
            next_at = datetime.fromisoformat(stored.next_check_at.replace("Z", "+00:00"))
            assert timedelta(minutes=59) < next_at - datetime.now(UTC) <= timedelta(hours=1)
            untouched = s.alerts.alert(later.id)
            assert untouched is not None and untouched.state is None
        finally:
            s.close()


def test_the_server_runs_the_checks(tmp_path: Path) -> None:
    """`headwater serve` (its one process here) runs the schedule's service beside the ETL's."""

    async def scenario() -> None:
        async with running(tmp_path / "data") as hw:
            found = [svc for svc in hw.runtime.services if isinstance(svc, AlertChecks)]
            assert len(found) == 1 and found[0].settings is hw.runtime.settings
            assert found[0].last_run is not None or await hw.until(lambda: found[0].last_run)

    asyncio.run(scenario())
