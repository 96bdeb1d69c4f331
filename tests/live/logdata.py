"""Writing event log files for live tests: real file names, the collector's line format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.events.timestamps import format_timestamp


def log_path(log_dir: Path, day: datetime, writer: str = "w") -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"events-{day.astimezone(UTC):%Y%m%d}.{writer}.jsonl"


def line(
    user: str | None,
    ts: datetime,
    tool: str | None = "editor",
    event: str = "Clicked",
    anon: str | None = None,
) -> str:
    record: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": user,
        "anonymousId": anon,
        "properties": {"tool_id": tool},
        "messageId": f"m-{user}-{ts.timestamp()}",
        "timestamp": format_timestamp(ts),
        "receivedAt": format_timestamp(ts),
        "_hw": {"source": "test", "bot": False, "event_type": event, "tool_id": tool},
    }
    return json.dumps(record)


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as fh:
        for text in lines:
            fh.write(text + "\n")
