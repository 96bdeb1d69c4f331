"""`headwater export metrics NAME`: a metric's rows (the JSON of `headwater metrics NAME --json`) as CSV.

One CSV row per row of the answer, its scalar fields as columns; a nested object's fields become
``field.key`` columns; a list of objects (retention's ``values``, one per period) gives one CSV row
per item, the item's fields beside the row's (named ``field.key`` where a name is taken); a list of
plain values is written as JSON. ``null`` is an empty cell, booleans are ``true``/``false``. The
answer's other keys (stickiness' ``active_days``, a funnel's ``steps``) stay in the JSON only.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from typing import Any, TextIO


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif not (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            out[f"{prefix}{key}"] = value
    return out


def flat_rows(rows: list[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """The answer's rows as flat dicts (a list of objects expanded to one dict per item)."""
    for row in rows:
        base = _flat(row)
        expanded = False
        for key, value in row.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for item in value:
                    flat = _flat(item)
                    yield {**base, **{(k if k not in base else f"{key}.{k}"): v for k, v in flat.items()}}
                expanded = True
                break  # one list of objects per row is expanded (the metrics have at most one)
        if not expanded:
            yield base


def write_metric_csv(answer: Mapping[str, Any], out: TextIO) -> int:
    """Write the rows of a metric's answer as CSV (a header, then the rows); how many rows."""
    rows = list(flat_rows(answer.get("rows") or []))
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["date"]
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return len(rows)
