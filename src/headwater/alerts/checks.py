"""Checking alerts: one now (:func:`check_alert`, for ``POST /api/v1/alerts/{id}/check``, ``headwater
alerts check`` and the schedule), and :class:`AlertChecks`, the ``headwater serve`` background
service that checks the alerts that are due.

A check runs the alert's saved trend over its last two complete periods (the insight's filters,
series and formula; its range, interval, breakdown and comparison replaced), applies the condition
(alerts/rules.py), sends the webhook when the state crossed (firing, recovered) and records the
outcome: the alert's state and last check, and a line of its history for every change of state
and every delivery. A webhook that fails is recorded with its error and sent again at the next
check; a check that fails (a cohort deleted, an unreadable lake file) puts the alert in ``error``
and is recorded. Nothing here ever stops the service.

Only one process runs the service (the one that runs the schedules: the background process, or
the only worker), and a check is claimed in the store before it runs (AlertCatalog.claim), so two
hosts sharing a PostgreSQL control plane check each alert once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headwater.alerts.rules import (
    EVERY_SECONDS,
    AlertError,
    AlertSpec,
    Condition,
    evaluate,
    message,
    notification,
    parse_condition,
    payload,
    periods,
    series_name,
    summary,
)
from headwater.alerts.webhook import Sender, WebhookError, post_webhook
from headwater.config import Settings
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.stores.sql.alerts import Alert, AlertCatalog, stamp
from headwater.stores.sql.saved import SavedCatalog, SavedInsight

# headwater.insights.trend (the lake's query, DuckDB and pyarrow with it) is imported by the first
# check: a process without alerts never loads it.

log = logging.getLogger("headwater.alerts")

POLL_SECONDS = 30.0
#: the parts of a saved trend an alert replaces (the rest, series, filters, formula, tz, is kept)
_REPLACED = ("start", "end", "interval", "compare", "breakdown", "limit")


def check_target(spec: AlertSpec, insight: SavedInsight | None) -> str:
    """The name of the series ``spec`` watches, or an AlertError: no such insight, not a trend, no
    such series."""
    if insight is None:
        raise AlertError(
            "insight", f"is no saved insight: {spec.insight!r} (GET /api/v1/insights/saved lists them)"
        )
    if insight.kind != "trend":
        raise AlertError(
            "insight",
            f"is a {insight.kind} insight ({insight.id!r}): alerts watch trend insights"
            " (a series per day or week)",
        )
    query = insight.query
    count = len(query.get("series") or [])
    return series_name(spec.series, count, bool(query.get("formula")))


def alert_query(query: dict[str, Any], condition: Condition, today: date) -> dict[str, Any]:
    """The saved trend over the last two complete periods before ``today``, one bucket each."""
    (_, last), (first, _) = periods(condition.period, today)
    out = {k: v for k, v in query.items() if k not in _REPLACED}
    out.update(start=first.isoformat(), end=last.isoformat(), interval=condition.period)
    return out


def _values(answer: dict[str, Any], series: str, firsts: tuple[date, date]) -> tuple[Any, Any]:
    found = {
        row["date"]: row["value"]
        for row in answer.get("rows", [])
        if row.get("series") == series and row.get("breakdown") is None
    }
    return found.get(firsts[0].isoformat()), found.get(firsts[1].isoformat())


def evaluate_alert(
    settings: Settings, alert: Alert, insight: SavedInsight | None, now: datetime
) -> dict[str, Any]:
    """The evaluation of ``alert`` at ``now`` (no side effect): state ok or firing with the value,
    the previous one and the change, or state error with the reason."""
    condition = parse_condition(alert.condition)
    out: dict[str, Any] = {"checked_at": stamp(now), "condition": alert.condition}
    try:
        spec = AlertSpec(alert.name, alert.insight, condition, alert.series, alert.webhook_url, alert.every)
        series = check_target(spec, insight)
        assert insight is not None
        tz = str(insight.query.get("tz") or settings.timezone)
        today = now.astimezone(ZoneInfo(tz)).date()
        (last, last_end), (before, before_end) = periods(condition.period, today)
        out.update(
            series=series,
            tz=tz,
            period={"type": condition.period, "start": last.isoformat(), "end": last_end.isoformat()},
            previous_period={"start": before.isoformat(), "end": before_end.isoformat()},
        )
        answer = _run_trend(settings, alert_query(insight.query, condition, today))
    except AlertError as exc:
        return {**out, "state": "error", "error": f"the alert's insight: {exc.message}"}
    except (MetricError, LakeError) as exc:  # a cohort deleted, an unreadable file: reported, retried
        return {**out, "state": "error", "error": _error_text(exc)}
    except Exception as exc:  # anything else too, with its traceback in the log
        log.exception("alert %s: the check failed", alert.id)
        return {**out, "state": "error", "error": _error_text(exc)}
    value, previous = _values(answer, series, (last, before))
    result = evaluate(condition, value, previous)
    found = summary(insight.name, series, condition, result, last)
    return {
        **out,
        "state": result.state,
        "value": result.value,
        "previous_value": result.previous,
        "change": result.change,
        "summary": found,
        "error": None,
    }


def _run_trend(settings: Settings, query: dict[str, Any]) -> dict[str, Any]:
    from headwater.insights.cohorts import Cohorts
    from headwater.insights.saved import run_saved

    cohorts = Cohorts(settings.data_dir, settings.effective_database_url)
    return run_saved(settings.data_dir, settings.timezone, "trend", query, cohorts)


def _error_text(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text)


def check_alert(
    settings: Settings,
    alerts: AlertCatalog,
    alert: Alert,
    now: datetime | None = None,
    send: Sender = post_webhook,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Check ``alert`` at ``now``: evaluate, send the webhook when the state crossed, record. The
    answer is the evaluation with ``notification`` (firing, recovered or None: what the crossing
    sends), ``delivered`` and ``delivery_error``. ``dry_run``: evaluate only (nothing sent, nothing
    recorded; ``notification`` says what a check would send)."""
    now = now or datetime.now(UTC)
    insight = SavedCatalog(db=alerts.db).insight(alert.insight)
    found = evaluate_alert(settings, alert, insight, now)
    state = str(found["state"])
    sent = notification(alert.notified, state)
    found.update(alert=alert.id, previous_state=alert.state, notification=sent, dry_run=dry_run)
    if sent is not None:
        found["message"] = message(alert.name, sent, str(found["summary"]))
    if dry_run:
        found.update(delivered=None, delivery_error=None, event=None)
        return found
    notified = alert.notified
    delivery_error: str | None = None
    if sent is not None:
        try:
            send(alert.webhook_url, payload(str(found["message"]), sent, _details(alert, insight, found)))
            notified = state
        except WebhookError as exc:
            delivery_error = str(exc)
        except Exception as exc:  # a sender that fails another way is a failed delivery too
            delivery_error = _error_text(exc)
    found.update(delivered=None if sent is None else delivery_error is None, delivery_error=delivery_error)
    event = None
    new_error = state == "error" and found["error"] != _last_error(alert)
    if sent is not None or state != alert.state or new_error:
        event = {
            "notification": sent,
            "delivered": sent is not None and delivery_error is None,
            "error": found["error"] if state == "error" else delivery_error,
        }
    made = alerts.record(alert, state, notified, found, now, event)
    found["event"] = made.id if made is not None else None
    return found


def _details(alert: Alert, insight: SavedInsight | None, found: dict[str, Any]) -> dict[str, Any]:
    """The figures the webhook's JSON carries under ``headwater``."""
    keys = ("state", "value", "previous_value", "change", "series", "period", "previous_period", "condition")
    return {
        "alert": {"id": alert.id, "name": alert.name},
        "insight": {"id": alert.insight, "name": insight.name if insight else None},
        **{k: found.get(k) for k in keys},
        "checked_at": found["checked_at"],
    }


def _last_error(alert: Alert) -> Any:
    return (alert.last_check or {}).get("error")


class AlertChecks:
    """Checks the alerts that are due, every ``poll_seconds`` (a new alert within that time of its
    creation, then every hour or day as it says)."""

    name = "alert_checks"

    def __init__(
        self, settings: Settings, poll_seconds: float = POLL_SECONDS, send: Sender = post_webhook
    ) -> None:
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.send = send
        self._task: asyncio.Task[None] | None = None
        self.last_run: str | None = None
        self.last_error: str | None = None
        self.checked = 0
        self.firing = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="alert-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> tuple[bool, dict[str, Any]]:
        # a check that fails never makes the server unready: it is reported and retried
        return True, {
            "last_run": self.last_run,
            "checked": self.checked,
            "firing": self.firing,
            "last_error": self.last_error,
        }

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_due)
            except Exception as exc:  # the store is away: said in /readyz, tried again
                self.last_error = _error_text(exc)
                log.warning("alert checks failed: %s", self.last_error)
            await asyncio.sleep(self.poll_seconds)

    def run_due(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Check every alert due at ``now`` that this process claims; their evaluations."""
        now = now or datetime.now(UTC)
        done: list[dict[str, Any]] = []
        self.last_error = None
        with AlertCatalog(self.settings.effective_database_url) as alerts:
            for alert in alerts.due(now):
                if not alerts.claim(alert, now + timedelta(seconds=EVERY_SECONDS.get(alert.every, 3600))):
                    continue  # another process took it
                try:
                    found = check_alert(self.settings, alerts, alert, now, self.send)
                except Exception as exc:  # the store failed mid-check: the next due time retries
                    self.last_error = f"alert {alert.id}: {_error_text(exc)}"
                    log.exception("alert %s not checked", alert.id)
                    continue
                done.append(found)
                self.checked += 1
                if found["state"] == "error":
                    self.last_error = f"alert {alert.id}: {found['error']}"
                if found.get("delivery_error"):
                    self.last_error = f"alert {alert.id}: webhook: {found['delivery_error']}"
                log.info(
                    "alert %s checked: %s",
                    alert.id,
                    found["state"],
                    extra={"notification": found["notification"]},
                )
            self.firing = sum(1 for a in alerts.alerts() if a.state == "firing")
        self.last_run = datetime.now(UTC).isoformat()
        return done
