"""What an alert means, with no I/O: its definition checked, the periods it looks at, its condition
applied to a value (and the one before) into a state, when a state change is sent, and the
Slack-compatible JSON the webhook receives.

An alert watches one series of a saved trend insight, per ``period`` (a day, or a week from Monday,
in the insight's time zone): the value is the series' value over the last complete period
(yesterday, last week), the previous value the one before it.

- ``above``: firing while value > ``value``; ``below``: firing while value < ``value``;
- ``change``: firing while the value moved by ``value`` percent or more from the previous period
  (``direction``: ``any`` way, default, ``up`` or ``down``); a change from 0 to anything else is
  an infinite change; no value (an average over no event) is no change.

A webhook is sent once when the state turns to firing, and once when it turns back to ok
(recovered): :func:`notification` compares the new state with the last one the webhook received,
so a delivery that failed is sent again at the next check, and nothing is sent while the state
holds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

CONDITIONS = ("above", "below", "change")
PERIODS = ("day", "week")
DIRECTIONS = ("any", "up", "down")
EVERY = ("hour", "day")
EVERY_SECONDS = {"hour": 3600, "day": 86400}
STATES = ("ok", "firing", "error")
FIELDS = ("name", "insight", "condition", "series", "webhook_url", "every")
CONDITION_FIELDS = ("type", "value", "period", "direction")
#: fields of the answers a client may send back unchanged (they are not read)
READ_ONLY = (
    "id",
    "created_at",
    "updated_at",
    "state",
    "last_value",
    "last_check",
    "last_checked_at",
    "next_check_at",
    "insight_name",
)
MAX_NAME = 200
MAX_URL = 2048
MAX_SERIES = 26  # A to Z, and the formula after them
#: the largest threshold (a float beyond it is not a count anyone means)
MAX_VALUE = 1e15


class AlertError(ValueError):
    """A definition refused; ``message`` names the field."""

    def __init__(self, field: str, message: str, code: str = "bad_field") -> None:
        self.field = field
        self.code = code
        self.message = f"field {field!r} {message}"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class Condition:
    type: str  # above | below | change
    value: float  # the threshold, or the change in percent
    period: str = "day"
    direction: str = "any"  # change only

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "value": _plain(self.value), "period": self.period}
        if self.type == "change":
            out["direction"] = self.direction
        return out

    def describe(self) -> str:
        if self.type == "above":
            return f"above {number(self.value)}"
        if self.type == "below":
            return f"below {number(self.value)}"
        way = {"any": "either way", "up": "up", "down": "down"}[self.direction]
        return f"a change of {number(self.value)} % or more ({way}) from the {self.period} before"


@dataclass(frozen=True, slots=True)
class AlertSpec:
    name: str
    insight: str
    condition: Condition
    series: int
    webhook_url: str
    every: str


def parse_alert(body: object, current: AlertSpec | None = None) -> AlertSpec:
    """An alert from a JSON object (``current``: the stored one a PUT changes; the fields the body
    leaves out are kept). Whether the insight exists, is a trend and has the series is the caller's
    to check (:func:`series_name`)."""
    if not isinstance(body, Mapping):
        raise AlertError("body", "must be a JSON object {name, insight, condition, webhook_url, ...}")
    unknown = sorted(str(k) for k in body if k not in FIELDS and k not in READ_ONLY)
    if unknown:
        raise AlertError(unknown[0], f"is not a field of an alert (fields: {', '.join(FIELDS)})")

    def given(name: str, default: Any = None) -> Any:
        if name in body:
            return body[name]
        return getattr(current, name) if current is not None else default

    name = _text(given("name"), "name", MAX_NAME).strip()
    if not name:
        raise AlertError("name", "must not be blank")
    insight = _text(given("insight"), "insight", MAX_NAME)
    raw = body.get("condition") if "condition" in body or current is None else current.condition
    condition = raw if isinstance(raw, Condition) else parse_condition(raw)
    series = given("series", 0)
    if series is None:
        series = 0
    if isinstance(series, bool) or not isinstance(series, int) or not 0 <= series <= MAX_SERIES:
        raise AlertError(
            "series", f"must be an integer from 0 (the first series) to {MAX_SERIES}: {series!r}"
        )
    webhook_url = check_webhook_url(given("webhook_url"))
    every = given("every", "hour")
    if every is None:
        every = "hour"
    if every not in EVERY:
        raise AlertError("every", f"must be one of {', '.join(EVERY)}: {every!r}")
    return AlertSpec(name, insight, condition, series, webhook_url, str(every))


def parse_condition(value: object) -> Condition:
    if value is None:
        raise AlertError(
            "condition", 'is required: {"type": "above|below|change", "value": N}', "missing_field"
        )
    if not isinstance(value, Mapping):
        raise AlertError(
            "condition", 'must be an object {"type": "above|below|change", "value": N, "period"}'
        )
    unknown = sorted(str(k) for k in value if k not in CONDITION_FIELDS)
    if unknown:
        raise AlertError(
            f"condition.{unknown[0]}",
            f"is not a field of a condition (fields: {', '.join(CONDITION_FIELDS)})",
        )
    kind = value.get("type")
    if kind not in CONDITIONS:
        raise AlertError("condition.type", f"must be one of {', '.join(CONDITIONS)}: {kind!r}")
    threshold = value.get("value")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise AlertError(
            "condition.value", f"must be a number (the threshold, or a percent for change): {threshold!r}"
        )
    if abs(threshold) > MAX_VALUE:
        raise AlertError("condition.value", f"must be at most {MAX_VALUE:.0e} in size")
    if kind == "change" and threshold <= 0:
        raise AlertError("condition.value", f"must be a positive percent for a change: {threshold!r}")
    period = value.get("period") or "day"
    if period not in PERIODS:
        raise AlertError("condition.period", f"must be one of {', '.join(PERIODS)}: {period!r}")
    direction = value.get("direction") or "any"
    if direction not in DIRECTIONS:
        raise AlertError("condition.direction", f"must be one of {', '.join(DIRECTIONS)}: {direction!r}")
    if kind != "change" and "direction" in value and value["direction"] not in (None, "any"):
        raise AlertError("condition.direction", "is read by a change condition only")
    return Condition(str(kind), float(threshold), str(period), str(direction))


def check_webhook_url(value: object) -> str:
    """An http(s) URL with a host (Slack's incoming webhooks: https://hooks.slack.com/services/...)."""
    url = _text(value, "webhook_url", MAX_URL)
    if any(c.isspace() for c in url):
        raise AlertError("webhook_url", "may not hold spaces")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise AlertError(
            "webhook_url", f"must be an http or https URL: {parts.scheme or '(no scheme)'}:// given"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        raise AlertError("webhook_url", "has a bad host or port") from None
    if not host:
        raise AlertError("webhook_url", "has no host")
    return url


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        raise AlertError(field, "is required", "missing_field")
    if not isinstance(value, str) or not value:
        raise AlertError(field, "must be a non-empty string")
    if len(value) > limit:
        raise AlertError(field, f"may hold at most {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise AlertError(field, "may not hold control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AlertError(field, "is not valid Unicode text") from None
    return value


def series_name(index: int, series_count: int, has_formula: bool) -> str:
    """The name of the trend's series at ``index`` (A, B ...; after them the formula's), or an
    AlertError naming ``series``."""
    if index < series_count:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index]
    if index == series_count and has_formula:
        return "formula"
    most = series_count if has_formula else series_count - 1
    what = f"{series_count} series" + (" and a formula" if has_formula else "")
    allowed = "0" if most == 0 else f"from 0 to {most}"
    raise AlertError("series", f"must be {allowed}: the insight has {what} (0 is the first)")


def periods(period: str, today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The last complete period before ``today`` and the one before it, each (first, last day)."""
    if period == "day":
        last = today - timedelta(days=1)
        return (last, last), (last - timedelta(days=1), last - timedelta(days=1))
    monday = today - timedelta(days=today.weekday())
    return (monday - timedelta(days=7), monday - timedelta(days=1)), (
        monday - timedelta(days=14),
        monday - timedelta(days=8),
    )


@dataclass(frozen=True, slots=True)
class Evaluation:
    state: str  # ok | firing
    value: float | None
    previous: float | None
    change: float | None  # percent from the previous period (None: no value, or from 0)


def evaluate(condition: Condition, value: float | None, previous: float | None) -> Evaluation:
    """The state of a condition for a period's value (and the one before it)."""
    change: float | None = None
    if value is not None and previous is not None:
        if previous == 0:
            change = 0.0 if value == 0 else math.copysign(math.inf, value)
        else:
            change = (value - previous) / abs(previous) * 100
    if condition.type == "above":
        firing = value is not None and value > condition.value
    elif condition.type == "below":
        firing = value is not None and value < condition.value
    elif change is None:
        firing = False
    elif condition.direction == "up":
        firing = change >= condition.value
    elif condition.direction == "down":
        firing = change <= -condition.value
    else:
        firing = abs(change) >= condition.value
    shown = round(change, 2) if change is not None and math.isfinite(change) else None
    return Evaluation("firing" if firing else "ok", value, previous, shown)


def notification(notified: str, state: str) -> str | None:
    """What to send when a check finds ``state`` and the webhook last received ``notified``:
    ``firing``, ``recovered`` or nothing (an error is not sent; the state before it holds)."""
    if state == "firing" and notified != "firing":
        return "firing"
    if state == "ok" and notified == "firing":
        return "recovered"
    return None


def number(value: float | None) -> str:
    """1,234 or 12.5 (at most 4 decimals), 'no value' for None."""
    if value is None:
        return "no value"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def when(period: str, first: date) -> str:
    return f"on {first.isoformat()}" if period == "day" else f"in the week of {first.isoformat()}"


def summary(insight_name: str, series: str, condition: Condition, result: Evaluation, first: date) -> str:
    """What a check found, in words: the value, its period, the change, and the condition."""
    what = f"'{insight_name}' (series {series}) was {number(result.value)} {when(condition.period, first)}"
    if condition.type == "change" and result.previous is not None:
        moved = "from 0" if result.change is None and result.previous == 0 else f"{number(result.change)} %"
        what += f", {moved} against {number(result.previous)} the {condition.period} before"
    return f"{what} (alert when {condition.describe()})"


def message(alert_name: str, sent: str, found: str) -> str:
    """The line the webhook receives (its ``text``): the alert, firing or recovered, and why."""
    head = f"Alert '{alert_name}' is firing" if sent == "firing" else f"Alert '{alert_name}' recovered"
    return f"{head}: {found}."


def payload(text: str, sent: str, details: dict[str, Any]) -> dict[str, Any]:
    """The webhook's JSON: Slack's incoming webhooks read ``text`` (and draw ``blocks``); other
    receivers find every figure under ``headwater``."""
    title = "Alert firing" if sent == "firing" else "Alert recovered"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"}}],
        "headwater": {"notification": sent, **details},
    }
