"""Hand-written event log lines in the exact shape the collector writes, for batch and metric tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

_ids = itertools.count(1)


def ev(
    ts: str,
    user: str | None = None,
    anon: str | None = None,
    event: str = "Clicked",
    type: str = "track",
    tool: str | None = None,
    props: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    previous: str | None = None,
    mid: str | None = None,
    received: str | None = None,
    context_traits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One logged event. ``ts`` is the event time (UTC, ...Z); ``received`` defaults to ``ts``."""
    out: dict[str, Any] = {"type": type, "messageId": mid or f"m{next(_ids)}"}
    if type == "track":
        out["event"] = event
    if user is not None:
        out["userId"] = user
    if anon is not None:
        out["anonymousId"] = anon
    if previous is not None:
        out["previousId"] = previous
    properties = dict(props or {})
    if tool is not None:
        properties["tool_id"] = tool
    if type in ("track", "page", "screen"):
        out["properties"] = properties
    if traits is not None:
        out["traits"] = traits
    out["timestamp"] = ts
    out["receivedAt"] = received or ts
    out["context"] = {"ip": "10.0.0.0"}
    if context_traits is not None:
        out["context"]["traits"] = context_traits
    hw: dict[str, Any] = {"source": "test", "bot": False, "event_type": event if type == "track" else type}
    if tool is not None:
        hw["tool_id"] = tool
    out["_hw"] = hw
    return out


def write_log(data_dir: Path, events: Iterable[dict[str, Any]], writer: str = "t") -> list[date]:
    """Append events to the log files of their received (UTC) day; returns the days written."""
    log_dir = data_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    days: set[date] = set()
    for e in events:
        day = date.fromisoformat(e["receivedAt"][:10])
        days.add(day)
        with open(log_dir / f"events-{day:%Y%m%d}.{writer}.jsonl", "a") as fh:
            fh.write(json.dumps(e, separators=(",", ":")) + "\n")
    return sorted(days)
