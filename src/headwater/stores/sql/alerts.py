"""Alerts and their history (docs/dashboard.md, "Alerts"), kept with the control plane (migration 13,
beside the saved insights they watch). An alert's row also holds its check state: ``state`` (NULL
until its first check), ``notified`` (the state its webhook last received), the last check's
evaluation and when the next one is due. ``alert_events`` is the history: every change of state
and every webhook delivery, a failed one with its error.

Several processes (or hosts) may run the checks: :meth:`AlertCatalog.claim` moves an alert's next
check forward only when nobody moved it since it was read, so each due check runs once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.catalog import SqlCatalog
from headwater.stores.sql.definitions import now_text
from headwater.stores.sql.saved import UnknownInsight, compact, marks, new_id

_P = "{p}"
_COLUMNS = (
    "id, name, insight_id, condition, series, webhook_url, every, created_at, updated_at, state, notified,"
    " last_check, last_checked_at, next_check_at"
)
_EVENT_COLUMNS = "id, alert_id, at, state, previous_state, notification, delivered, error, evaluation"


def stamp(moment: datetime) -> str:
    """A moment as the fixed-width UTC text of the tables (text order is time order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    name: str
    insight: str
    condition: dict[str, Any]
    series: int
    webhook_url: str
    every: str
    created_at: str
    updated_at: str
    state: str | None = None  # ok | firing | error; None until the first check
    notified: str = "ok"  # the state the webhook last received (ok: nothing sent, or recovered)
    last_check: dict[str, Any] | None = None
    last_checked_at: str | None = None
    next_check_at: str | None = None  # None: due now

    def as_json(self, insight_name: str | None = None, webhook_url: str | None = None) -> dict[str, Any]:
        """The API's JSON (``webhook_url``: what to show instead of the URL, for a reader who may not
        change alerts)."""
        last = self.last_check or {}
        return {
            "id": self.id,
            "name": self.name,
            "insight": self.insight,
            "insight_name": insight_name,
            "condition": self.condition,
            "series": self.series,
            "webhook_url": self.webhook_url if webhook_url is None else webhook_url,
            "every": self.every,
            "state": self.state,
            "last_value": last.get("value"),
            "last_checked_at": self.last_checked_at,
            "next_check_at": self.next_check_at,
            "last_check": self.last_check,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    id: str
    alert: str
    at: str
    state: str
    previous_state: str | None
    notification: str | None  # firing | recovered: a webhook was sent (or tried)
    delivered: bool
    error: str | None  # the check's error (state error) or the webhook's (delivered false)
    evaluation: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert": self.alert,
            "at": self.at,
            "state": self.state,
            "previous_state": self.previous_state,
            "notification": self.notification,
            "delivered": self.delivered,
            "error": self.error,
            "value": self.evaluation.get("value"),
            "evaluation": self.evaluation,
        }


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        row[0],
        row[1],
        row[2],
        json.loads(row[3]),
        int(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        json.loads(row[11]) if row[11] else None,
        row[12],
        row[13],
    )


def _event(row: Sequence[Any]) -> AlertEvent:
    return AlertEvent(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], json.loads(row[8])
    )


class AlertCatalog(SqlCatalog):
    """Thread-safe (one connection behind a lock). With ``db`` it works on that database and leaves
    it open."""

    def alerts(self, insight_id: str | None = None) -> list[Alert]:
        """Every alert (or the ones watching ``insight_id``), oldest first."""
        if insight_id is None:
            rows = self._all(f"SELECT {_COLUMNS} FROM alerts ORDER BY created_at, id")
        else:
            rows = self._all(
                f"SELECT {_COLUMNS} FROM alerts WHERE insight_id = {_P} ORDER BY created_at, id",
                (insight_id,),
            )
        return [_alert(r) for r in rows]

    def alert(self, alert_id: str) -> Alert | None:
        rows = self._all(f"SELECT {_COLUMNS} FROM alerts WHERE id = {_P}", (alert_id,))
        return _alert(rows[0]) if rows else None

    def _require_insight(self, cur: Any, insight_id: str) -> None:
        cur.execute(self.db.q(f"SELECT 1 FROM saved_insights WHERE id = {_P}"), (insight_id,))
        if cur.fetchone() is None:
            raise UnknownInsight(insight_id)

    def create(
        self, name: str, insight: str, condition: dict[str, Any], series: int, webhook_url: str, every: str
    ) -> Alert:
        """A new alert, due for its first check now; UnknownInsight when ``insight`` is none."""
        now = now_text()
        with self.db.tx() as cur:
            self._require_insight(cur, insight)
            while True:
                alert_id = new_id()
                cur.execute(self.db.q(f"SELECT 1 FROM alerts WHERE id = {_P}"), (alert_id,))
                if cur.fetchone() is None:
                    break
            cur.execute(
                self.db.q(
                    "INSERT INTO alerts (id, name, insight_id, condition, series, webhook_url, every,"
                    f" created_at, updated_at) VALUES {marks(9)}"
                ),
                (alert_id, name, insight, compact(condition), series, webhook_url, every, now, now),
            )
        return Alert(alert_id, name, insight, condition, series, webhook_url, every, now, now)

    def update(
        self,
        alert_id: str,
        name: str,
        insight: str,
        condition: dict[str, Any],
        series: int,
        webhook_url: str,
        every: str,
    ) -> Alert | None:
        """Change an alert; its next check is due now (the state and what the webhook last received
        are kept, so a change that keeps it firing sends nothing)."""
        with self.db.tx() as cur:
            self._require_insight(cur, insight)
            cur.execute(
                self.db.q(
                    f"UPDATE alerts SET name = {_P}, insight_id = {_P}, condition = {_P}, series = {_P},"
                    f" webhook_url = {_P}, every = {_P}, updated_at = {_P}, next_check_at = NULL"
                    f" WHERE id = {_P}"
                ),
                (name, insight, compact(condition), series, webhook_url, every, now_text(), alert_id),
            )
            if not cur.rowcount:
                return None
        return self.alert(alert_id)

    def delete(self, alert_id: str) -> bool:
        """Delete an alert and its history."""
        with self.db.tx() as cur:
            cur.execute(self.db.q(f"DELETE FROM alerts WHERE id = {_P}"), (alert_id,))
            if not cur.rowcount:
                return False
            cur.execute(self.db.q(f"DELETE FROM alert_events WHERE alert_id = {_P}"), (alert_id,))
        return True

    def due(self, now: datetime) -> list[Alert]:
        """The alerts whose next check is due at ``now`` (never checked ones first)."""
        rows = self._all(
            f"SELECT {_COLUMNS} FROM alerts WHERE next_check_at IS NULL OR next_check_at <= {_P}"
            " ORDER BY next_check_at IS NOT NULL, next_check_at, created_at, id",
            (stamp(now),),
        )
        return [_alert(r) for r in rows]

    def claim(self, alert: Alert, next_at: datetime) -> bool:
        """Move ``alert``'s next check to ``next_at`` if nobody did since it was read: whether this
        process won the check."""
        with self.db.tx() as cur:
            if alert.next_check_at is None:
                cur.execute(
                    self.db.q(
                        f"UPDATE alerts SET next_check_at = {_P} WHERE id = {_P} AND next_check_at IS NULL"
                    ),
                    (stamp(next_at), alert.id),
                )
            else:
                cur.execute(
                    self.db.q(
                        f"UPDATE alerts SET next_check_at = {_P} WHERE id = {_P} AND next_check_at = {_P}"
                    ),
                    (stamp(next_at), alert.id, alert.next_check_at),
                )
            return bool(cur.rowcount)

    def reschedule(self, alert_id: str, next_at: datetime) -> None:
        """The next scheduled check at ``next_at`` (a check run by hand counts as the scheduled one)."""
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(f"UPDATE alerts SET next_check_at = {_P} WHERE id = {_P}"),
                (stamp(next_at), alert_id),
            )

    def record(
        self,
        alert: Alert,
        state: str,
        notified: str,
        evaluation: dict[str, Any],
        checked_at: datetime,
        event: dict[str, Any] | None = None,
    ) -> AlertEvent | None:
        """A check's outcome: the alert's state, what its webhook last received, the evaluation;
        ``event`` (notification, delivered, error) adds a line to its history."""
        at = stamp(checked_at)
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"UPDATE alerts SET state = {_P}, notified = {_P}, last_check = {_P},"
                    f" last_checked_at = {_P} WHERE id = {_P}"
                ),
                (state, notified, compact(evaluation), at, alert.id),
            )
            if not cur.rowcount or event is None:
                return None
            made = AlertEvent(
                new_id(),
                alert.id,
                at,
                state,
                alert.state,
                event.get("notification"),
                bool(event.get("delivered")),
                event.get("error"),
                evaluation,
            )
            cur.execute(
                self.db.q(f"INSERT INTO alert_events ({_EVENT_COLUMNS}) VALUES {marks(9)}"),
                (
                    made.id,
                    made.alert,
                    made.at,
                    made.state,
                    made.previous_state,
                    made.notification,
                    int(made.delivered),
                    made.error,
                    compact(evaluation),
                ),
            )
        return made

    def events(self, alert_id: str, limit: int = 100) -> list[AlertEvent]:
        """An alert's history, newest first."""
        rows = self._all(
            f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE alert_id = {_P}"
            f" ORDER BY at DESC, id DESC LIMIT {int(limit)}",
            (alert_id,),
        )
        return [_event(r) for r in rows]
