"""The CLI's short syntax of a trend (``headwater insights trend``), turned into the JSON the API takes.

A filter is ``type:name OP value``: ``type`` is event, person, derived or cohort (``cohort:ID`` alone
is "a member of the cohort", ``cohort:ID=false`` "not a member"); OP is one of

    =   eq  (a comma list is ``in``: plan=pro,team; write \\, for a comma inside a value)
    !=  neq
    >   gt  (a number)
    <   lt  (a number)
    ~   contains
    ?   exists (nothing after it); !? is "is not set"

A value is read as JSON when it is a number, true, false, null or a "quoted string" (so "7" is the
text 7), as plain text otherwise. A name holding one of the characters = ! < > ~ ? needs the API.
"""

from __future__ import annotations

import json
import re
from typing import Any

from headwater.insights.request import FILTER_TYPES
from headwater.lake.params import MetricError

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_OPERATORS = (("!?", "not_exists"), ("!=", "neq"), ("=", "eq"), (">", "gt"), ("<", "lt"), ("~", "contains"))
_COMMA = re.compile(r"(?<!\\),")
ANY_EVENT = "*"


def _bad(option: str, text: str, message: str) -> MetricError:
    return MetricError("bad_option", f"option '{option}' {text!r}: {message}")


def _kind(option: str, text: str) -> tuple[str, str]:
    kind, colon, rest = text.partition(":")
    if not colon or kind not in FILTER_TYPES:
        raise _bad(option, text, f"start with a type, one of {', '.join(t + ':' for t in FILTER_TYPES)}")
    return kind, rest


def scalar(text: str) -> Any:
    """A value of the short syntax: JSON for numbers, true, false, null and "quoted" text."""
    stripped = text.strip()
    if stripped in ("true", "false", "null") or _NUMBER.fullmatch(stripped):
        return json.loads(stripped)
    if len(stripped) >= 2 and stripped.startswith('"') and stripped.endswith('"'):
        try:
            return json.loads(stripped)
        except ValueError:
            return stripped
    return stripped


def parse_filter(text: str, option: str = "--filter") -> dict[str, Any]:
    """``event:plan=pro`` -> ``{"type": "event", "name": "plan", "op": "eq", "value": "pro"}``."""
    kind, rest = _kind(option, text)
    found = [(rest.find(symbol), symbol, op) for symbol, op in _OPERATORS if symbol in rest]
    if rest.endswith("?") and not rest.endswith("!?"):
        found.append((len(rest) - 1, "?", "exists"))
    if not found and kind == "cohort" and rest.strip():
        return {"type": "cohort", "name": rest.strip(), "op": "eq", "value": True}
    if not found:
        raise _bad(option, text, "say an operator: = != > < ~ (contains) or ? (is set), e.g. event:plan=pro")
    at, symbol, op = min(found, key=lambda f: (f[0], -len(f[1])))
    name, value = rest[:at].strip(), rest[at + len(symbol) :]
    if not name:
        raise _bad(option, text, "name a property, trait or dimension before the operator")
    if op in ("exists", "not_exists"):
        if value.strip():
            raise _bad(option, text, f"{symbol} takes no value")
        return {"type": kind, "name": name, "op": "exists", "value": op == "exists"}
    if op == "contains":
        return {"type": kind, "name": name, "op": op, "value": value.strip()}
    parts = [p.replace("\\,", ",") for p in _COMMA.split(value)]
    if len(parts) > 1:
        if op != "eq":
            raise _bad(option, text, "a comma list (in) goes with = only")
        return {"type": kind, "name": name, "op": "in", "value": [scalar(p) for p in parts]}
    return {"type": kind, "name": name, "op": op, "value": scalar(parts[0])}


def parse_breakdown(text: str) -> dict[str, str]:
    """``derived:browser`` -> ``{"type": "derived", "name": "browser"}``."""
    kind, name = _kind("--breakdown", text)
    if not name.strip():
        raise _bad("--breakdown", text, "name what to break down by, e.g. derived:browser or event:plan")
    return {"type": kind, "name": name.strip()}


def _spread(option: str, values: list[str], count: int) -> list[str | None]:
    """One value per series: none, one for all, or one each."""
    if not values:
        return [None] * count
    if len(values) == 1:
        return [values[0]] * count
    if len(values) != count:
        raise MetricError(
            "bad_option",
            f"option '{option}' is given {len(values)} times for {count} series: once, or once each",
        )
    return list(values)


def trend_body(
    start: str,
    end: str,
    tz: str | None = None,
    events: list[str] | None = None,
    measures: list[str] | None = None,
    properties: list[str] | None = None,
    filters: list[str] | None = None,
    filter_match: str | None = None,
    breakdown: str | None = None,
    limit: int | None = None,
    interval: str | None = None,
    formula: str | None = None,
    compare: bool = False,
) -> dict[str, Any]:
    """The JSON of POST /api/v1/insights/trend for the CLI's options (request.py checks it)."""
    names: list[str | None] = [None if e == ANY_EVENT else e for e in (events or [ANY_EVENT])]
    kinds = _spread("--measure", measures or [], len(names))
    props = _spread("--property", properties or [], len(names))
    series = []
    for event, measure, prop in zip(names, kinds, props, strict=True):
        one: dict[str, Any] = {"event": event, "measure": measure or "events"}
        if prop is not None and (measure or "events") not in ("events", "users"):
            one["property"] = prop
        elif prop is not None and properties and len(properties) > 1:
            one["property"] = prop  # given for this very series: request.py says it is not read
        series.append(one)
    body: dict[str, Any] = {"start": start, "end": end, "series": series, "compare": compare}
    optional = {
        "tz": tz,
        "filter_match": filter_match,
        "limit": limit,
        "interval": interval,
        "formula": formula,
        "breakdown": parse_breakdown(breakdown) if breakdown else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if filters:
        body["filters"] = [parse_filter(f) for f in filters]
    return body
