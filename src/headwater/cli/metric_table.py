"""How `headwater metrics NAME` prints a metric's answer as a table (``--json`` prints the answer).

Shares and rates print as percentages (``44.2%``), other fractions with at most two decimals,
headers in words. Retention prints one column per period with the share of the cohort (``*``: the
period is not over); the columns that do not fit the terminal are left out, and a line says which
and how to see them, so no cell is ever cut to an ellipsis.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table

#: fields that are shares of something (0..1), printed as percentages
RATIOS = frozenset({"conversion", "from_previous", "share", "share_of_mau", "trend", "rate", "bounce_rate"})
HEADERS = {
    "date": "date",
    "dau": "DAU",
    "wau": "WAU",
    "mau": "MAU",
    "tool_id": "tool",
    "share_of_mau": "share of MAU",
    "from_previous": "from previous",
    "median_seconds": "median session (s)",
    "cohort_size": "users",
}
DATE_WIDTH = 10
PERIOD_WIDTH = 5  # "100%*"


def percent(value: float, signed: bool = False) -> str:
    text = f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"
    return text.replace(".0%", "%")


def figure(value: float) -> str:
    """A number for a reader: a whole one with thousands separators (``12,345``), another with four
    significant digits and never an exponent (``3.429``, ``0.004256``, ``12,346``)."""
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    if not math.isfinite(number):
        return str(number)
    decimals = max(0, 3 - math.floor(math.log10(abs(number))))
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(key: str, value: Any, metric: str = "") -> str:
    """One value as the table shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if key in RATIOS or (metric == "stickiness" and key == "value"):
        return percent(float(value), signed=key == "trend")
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def header(key: str, metric: str) -> str:
    if metric == "stickiness" and key == "value":
        return "DAU/MAU"
    if key == "value" and metric in ("dau", "wau", "mau"):
        return metric.upper()
    return HEADERS.get(key, key.replace("_", " "))


def retention_table(out: dict[str, Any], width: int) -> tuple[Table, str | None]:
    period = out.get("period") or "day"
    rows = out["rows"]
    periods = max((len(r.get("values", [])) for r in rows), default=0)
    # date, users, then as many periods as fit (rich draws 3 characters between columns)
    room = max(1, (width - 4 - (DATE_WIDTH + 3) - (6 + 3)) // (PERIOD_WIDTH + 3))
    shown = min(periods, room)
    table = Table(title=f"retention {out['start']}..{out['end']} ({out['tz']}), share of the cohort active")
    table.add_column("cohort", no_wrap=True, min_width=DATE_WIDTH)
    table.add_column("users", justify="right", no_wrap=True)
    for i in range(shown):
        table.add_column(f"{period} {i}" if i < 10 else str(i), justify="right", no_wrap=True)
    average = {a["period"]: a["rate"] for a in out.get("average") or []}
    if average:
        rates = [average.get(i) for i in range(shown)]
        table.add_row("average", "", *("" if r is None else f"{r:.0%}" for r in rates), end_section=True)
    for r in rows:
        values = []
        for v in r.get("values", [])[:shown]:
            mark = "*" if v.get("incomplete") else ""
            values.append(("" if v["rate"] is None else f"{v['rate']:.0%}") + mark)
        values += [""] * (shown - len(values))
        table.add_row(str(r["date"]), f"{r['cohort_size']:,}", *values)
    note = "*: the period is not over yet."
    if shown < periods:
        note += (
            f" {period}s {shown}..{periods - 1} do not fit in {width} columns: widen the terminal,"
            " use a longer --period, or --json."
        )
    return table, note


def metric_table(name: str, out: dict[str, Any], console: Console) -> None:
    """Print a metric's answer: its rows as a table, then its other fields, one per line."""
    if name == "retention":
        table, note = retention_table(out, console.width)
        console.print(table)
        if note:
            console.print(note)
    else:
        flat = [{k: v for k, v in r.items() if not isinstance(v, list | dict)} for r in out["rows"]]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        table = Table(title=f"{name} {out['start']}..{out['end']} ({out['tz']})")
        for c in columns:
            numeric = any(isinstance(r.get(c), int | float) for r in flat)
            table.add_column(header(c, name), justify="right" if numeric else "left", no_wrap=c == "date")
        for r in flat:
            table.add_row(*(cell(c, r.get(c), name) for c in columns))
        console.print(table)
    for key, value in out.items():
        if key in ("metric", "start", "end", "tz", "rows") or value in (None, [], {}):
            continue
        if name == "retention" and key in ("average", "period"):  # in the table
            continue
        console.print(f"{key}: {json.dumps(value, default=str)}", soft_wrap=True)
