"""The count by hand: a trend computed in plain Python over the raw log lines, from the definitions
of docs/insights.md (dedup by messageId, identity merge, local days, typed property filters, top N
breakdown values and $other, per-bucket unique users, formula, compare), independent of the SQL."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from headwater.insights.buckets import bucket_of, bucket_starts
from headwater.insights.dimensions import describe

MISSING = object()
JUNK = {"", "0", "null", "undefined", "anonymous"}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def resolve(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event once (the first line of a messageId), with ``name`` and ``person``."""
    seen: set[str] = set()
    unique = []
    for e in lines:
        if e["messageId"] not in seen:
            seen.add(e["messageId"])
            unique.append(e)
    links: dict[str, tuple[datetime, str]] = {}
    for e in unique:
        user, anon = _clean(e.get("userId")), _clean(e.get("anonymousId"))
        if user and anon:
            at = _ts(e["timestamp"])
            if anon not in links or at < links[anon][0]:
                links[anon] = (at, user)
    out = []
    for e in unique:
        user, anon = _clean(e.get("userId")), _clean(e.get("anonymousId"))
        person = user or (links[anon][1] if anon in links else f"anon:{anon}" if anon else None)
        name = e["event"] if e["type"] == "track" else e["type"]
        out.append({**e, "name": name, "person": person, "at": _ts(e["timestamp"])})
    return out


def _clean(value: Any) -> str | None:
    if value is None or str(value).strip().lower() in JUNK:
        return None
    return str(value)


def json_text(value: Any) -> str | None:
    """What DuckDB's ``->>`` reads of a JSON value."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _json_eq(v: Any, want: Any) -> bool:
    if v is MISSING:
        return False
    if want is None:
        return v is None
    if isinstance(want, bool):
        return isinstance(v, bool) and v == want
    if _number(want):
        return _number(v) and float(v) == float(want)
    return isinstance(v, str) and v == want


def _text_of(want: Any) -> str | None:
    if isinstance(want, float) and want.is_integer():
        return str(int(want))
    return json_text(want)


def match(flt: dict[str, Any], v: Any, is_json: bool) -> bool:
    op = flt["op"]
    want: Any = flt.get("value")
    if not is_json:  # a text (trait, derived) or None
        if op == "exists":
            return (v is not None) == (want is not False)
        if op == "eq":
            return v is None if want is None else v == _text_of(want)
        if op == "neq":
            return not (v is None if want is None else v == _text_of(want))
        if op == "in":
            return any((v is None) if w is None else v == _text_of(w) for w in want)
        if op in ("gt", "lt"):
            try:
                number = float(v) if v is not None else None
            except ValueError:
                return False
            return number is not None and (number > want if op == "gt" else number < want)
        return v is not None and str(want) in v
    if op == "exists":
        return (v is not MISSING and v is not None) == (want is not False)
    if op == "eq":
        return _json_eq(v, want)
    if op == "neq":
        return not _json_eq(v, want)
    if op == "in":
        return any(_json_eq(v, w) for w in want)
    if op in ("gt", "lt"):
        return _number(v) and (v > want if op == "gt" else v < want)
    if isinstance(want, str) and isinstance(v, str):
        return want in v
    return isinstance(v, list) and any(_json_eq(x, want) for x in v)


def _host(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    host = host.removeprefix("www.")
    return host or None


def derived(e: dict[str, Any], name: str) -> str | None:
    ctx = e.get("context") or {}
    agent = ctx.get("userAgent")
    if name in ("browser", "os", "device_type"):
        browser, os, device = describe(agent) if agent else (None, None, None)
        if name == "os":
            return os or (ctx.get("os") or {}).get("name")
        return browser if name == "browser" else device
    if name.startswith("utm_"):
        key = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "name"}[name]
        return json_text((ctx.get("campaign") or {}).get(key))
    if name == "referrer_domain":
        return _host((ctx.get("page") or {}).get("referrer"))
    if name == "path":
        path = (ctx.get("page") or {}).get("path")
        if path is None and e["type"] == "page":
            path = (e.get("properties") or {}).get("path")
        return json_text(path)
    if name in ("country", "region"):  # context.location (filled at collection from the IP: events/geo.py)
        location = ctx.get("location")
        return json_text(location.get(name)) if isinstance(location, dict) else None
    if name == "library":
        return json_text((ctx.get("library") or {}).get("name"))
    if name == "app_version":
        return json_text((ctx.get("app") or {}).get("version"))
    assert name == "tool_id"
    return json_text((e.get("properties") or {}).get("tool_id"))


def latest_traits(events: list[dict[str, Any]], name: str, last: date, tz: str) -> dict[str, str]:
    """Each person's latest non-null value of trait ``name`` by local day ``last``."""
    best: dict[str, tuple[datetime, str]] = {}
    for e in events:
        if e["person"] is None or e["at"].astimezone(ZoneInfo(tz)).date() > last:
            continue
        value = json_text((e.get("traits") or {}).get(name))
        if value is None:
            value = json_text(((e.get("context") or {}).get("traits") or {}).get(name))
        if value is not None and (e["person"] not in best or e["at"] > best[e["person"]][0]):
            best[e["person"]] = (e["at"], value)
    return {p: v for p, (_, v) in best.items()}


def _reader(
    events: list[dict[str, Any]], body: dict[str, Any], tz: str, cohorts: dict[str, set[str]] | None = None
) -> Callable[[dict[str, Any], str, str], Any]:
    end = date.fromisoformat(body["end"])
    traits: dict[str, dict[str, str]] = {}

    def read(e: dict[str, Any], kind: str, name: str) -> Any:
        if kind == "event":
            props = e.get("properties")
            return props.get(name, MISSING) if isinstance(props, dict) else MISSING
        if kind == "derived":
            return derived(e, name)
        if kind == "cohort":  # members by hand (tests/insights/test_cohorts.py): 'true' or 'false'
            return "true" if e["person"] in (cohorts or {})[name] else "false"
        if name not in traits:
            traits[name] = latest_traits(events, name, end, tz)
        return traits[name].get(e["person"])

    return read


def _measure(measure: str, rows: list[tuple[dict[str, Any], Any]]) -> int | float | None:
    if measure == "events":
        return len(rows)
    if measure == "users":
        return len({e["person"] for e, _ in rows if e["person"] is not None})
    values = sorted(float(v) for _, v in rows if _number(v))
    if measure == "sum":
        return sum(values)
    if not values:
        return None
    if measure == "avg":
        return sum(values) / len(values)
    pos = (len(values) - 1) * {"p50": 0.5, "p90": 0.9}[measure]
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def expected(
    lines: list[dict[str, Any]],
    body: dict[str, Any],
    tz: str = "UTC",
    cohorts: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """``{"rows", "breakdown_values", "skipped_values"}`` of a trend body, by hand."""
    events = resolve(lines)
    tz = body.get("tz") or tz
    zone = ZoneInfo(tz)
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    length = (end - start).days + 1
    periods = [("current", start, end)]
    if body.get("compare"):
        periods.append(("previous", start - timedelta(days=length), start - timedelta(days=1)))
    interval = body.get("interval", "day")
    series = body["series"]
    read = _reader(events, body, tz, cohorts)
    glue = all if body.get("filter_match", "all") == "all" else any
    breakdown = body.get("breakdown")
    picked: list[tuple[str, date, dict[str, Any], list[bool], Any]] = []  # period, bucket, e, flags, bd
    for e in events:
        if e["person"] is None:  # an event of nobody (junk ids only) is not counted
            continue
        day = e["at"].astimezone(zone).date()
        found = next(((p, first) for p, first, last in periods if first <= day <= last), None)
        if found is None:
            continue
        flags = [
            (s.get("event") is None or e["name"] == s["event"])
            and all(
                match(f, read(e, f["type"], f["name"]), f["type"] == "event") for f in s.get("filters", [])
            )
            for s in series
        ]
        filters = body.get("filters", [])
        keep = glue(match(f, read(e, f["type"], f["name"]), f["type"] == "event") for f in filters)
        if not any(flags) or (filters and not keep):
            continue
        bd = None
        if breakdown:
            raw = read(e, breakdown["type"], breakdown["name"])
            bd = json_text(raw) if breakdown["type"] == "event" else raw
        picked.append((found[0], bucket_of(interval, day, found[1]), e, flags, bd))

    def value_of(i: int, chosen: Iterable[tuple[str, date, dict[str, Any], list[bool], Any]]) -> Any:
        s = series[i]
        prop = s.get("property")
        rows = [
            (e, (e.get("properties") or {}).get(prop, MISSING) if prop else None)
            for _, _, e, f, _ in chosen
            if f[i]
        ]
        return _measure(s.get("measure", "events"), rows)

    labels: list[Any] = [None]
    top: list[Any] = []
    if breakdown:
        current = [p for p in picked if p[0] == "current"]
        values = {p[4] for p in current}
        ranked = []
        for v in values:
            mine = [p for p in current if p[4] == v]
            a = value_of(0, mine)
            ranked.append((a is None, -(a or 0), -len(mine), v is None, v or ""))
        ranked.sort()
        top = [r[4] if not r[3] else None for r in ranked[: body.get("limit", 10)]]
        labels = [*top]
        if any(p[4] not in top for p in picked):
            labels.append("$other")
    skipped = 0
    for s_i, s in enumerate(series):
        if s.get("property"):
            for _, _, e, f, _ in picked:
                v = (e.get("properties") or {}).get(s["property"], MISSING)
                if f[s_i] and v is not MISSING and v is not None and not _number(v):
                    skipped += 1
    rows = []
    for period, first, last in periods:
        for day in bucket_starts(interval, first, last):
            for label in labels:
                if not breakdown:
                    chosen = [p for p in picked if p[0] == period and p[1] == day]
                elif label == "$other":
                    chosen = [p for p in picked if p[0] == period and p[1] == day and p[4] not in top]
                else:
                    chosen = [p for p in picked if p[0] == period and p[1] == day and p[4] == label]
                shown = "$none" if breakdown and label is None else label
                values_by = {
                    s_name: value_of(i, chosen) for i, s_name in enumerate("ABCDEFGHIJ"[: len(series)])
                }
                for name, v in values_by.items():
                    if v is None and series["ABCDEFGHIJ".index(name)].get("measure") == "sum":
                        v = 0.0
                    rows.append(_row(day, name, shown, v, period, body))
                if body.get("formula"):
                    rows.append(
                        _row(day, "formula", shown, _formula(body["formula"], values_by), period, body)
                    )
    shown_labels = ["$none" if v is None else v for v in labels] if breakdown else []
    return {"rows": rows, "breakdown_values": shown_labels, "skipped_values": skipped}


def _row(day: date, series: str, label: Any, value: Any, period: str, body: dict[str, Any]) -> dict[str, Any]:
    row = {"date": day.isoformat(), "series": series, "breakdown": label, "value": value}
    if body.get("compare"):
        row["period"] = period
    return row


def _formula(text: str, values: dict[str, Any]) -> float | None:
    """The test's formulas only: A / B, A - B, (A - B) / A * 100."""
    a, b = values.get("A"), values.get("B")
    if a is None or b is None:
        return None
    try:
        formulas = {
            "A / B": lambda: a / b,
            "A - B": lambda: a - b,
            "(A - B) / A * 100": lambda: (a - b) / a * 100,
        }
        return float(formulas[text]())
    except ZeroDivisionError:
        return None
