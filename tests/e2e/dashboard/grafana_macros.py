"""Grafana's PostgreSQL macros, expanded as Grafana does, so a panel's SQL runs as Grafana runs it.

Reference: Grafana's PostgreSQL data source documentation (macros) and its macro engine
(pkg/tsdb/grafana-postgresql-datasource/macros.go): $__time, $__timeEpoch, $__timeFilter,
$__timeFrom, $__timeTo, $__timeGroup, $__timeGroupAlias, $__unixEpochFilter, $__unixEpochFrom,
$__unixEpochTo, $__unixEpochGroup(Alias), and the $__interval / $__interval_ms variables.
"""

from __future__ import annotations

import re
from datetime import datetime

_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def interval_seconds(text: str) -> int:
    match = re.fullmatch(r"'?(\d+)([smhdw])'?", text.strip())
    if not match:
        raise ValueError(f"bad interval {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def expand(sql: str, start: datetime, end: datetime, interval: str = "1h") -> str:
    frm = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    to = end.strftime("%Y-%m-%dT%H:%M:%SZ")

    def one(match: re.Match[str]) -> str:
        name, raw = match.group(1), match.group(2)
        args = [a.strip() for a in raw.split(",")] if raw.strip() else []
        if name == "time":
            return f'{args[0]} AS "time"'
        if name == "timeEpoch":
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "timeFilter":
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "timeFrom":
            return f"'{frm}'"
        if name == "timeTo":
            return f"'{to}'"
        if name in ("timeGroup", "timeGroupAlias"):
            seconds = interval_seconds(args[1])
            out = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
            return out + (' AS "time"' if name == "timeGroupAlias" else "")
        if name == "unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        if name == "unixEpochFrom":
            return str(int(start.timestamp()))
        if name == "unixEpochTo":
            return str(int(end.timestamp()))
        if name in ("unixEpochGroup", "unixEpochGroupAlias"):
            seconds = interval_seconds(args[1])
            out = f"floor({args[0]}/{seconds})*{seconds}"
            return out + (' AS "time"' if name == "unixEpochGroupAlias" else "")
        raise ValueError(f"macro $__{name} is not one Grafana's PostgreSQL data source knows")

    expanded = _MACRO.sub(one, sql)
    seconds = interval_seconds(interval)
    expanded = expanded.replace("$__interval_ms", str(seconds * 1000)).replace("$__interval", f"'{interval}'")
    if "$" in expanded:
        raise ValueError(f"unexpanded variable left in: {expanded}")
    return expanded
