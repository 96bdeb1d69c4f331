"""Writing event log files for live tests: real file names, the collector's line format."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.events.timestamps import format_timestamp


def log_path(log_dir: Path, day: datetime, writer: str = "w") -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"events-{day.astimezone(UTC):%Y%m%d}.{writer}.jsonl"


_SEQUENCE = itertools.count()


def line(
    user: str | None,
    ts: datetime,
    tool: str | None = "editor",
    event: str = "Clicked",
    anon: str | None = None,
    mid: str | None = None,
    received: datetime | None = None,
    kind: str = "track",
) -> str:
    """One event as the collector logs it; every line its own messageId unless ``mid`` names one
    (a client's retry sends the same message again)."""
    record: dict[str, Any] = {
        "type": kind,
        "event": event,
        "userId": user,
        "anonymousId": anon,
        "properties": {"tool_id": tool},
        "messageId": mid or f"m-{user}-{ts.timestamp()}-{next(_SEQUENCE)}",
        "timestamp": format_timestamp(ts),
        "receivedAt": format_timestamp(received or ts),
        "_hw": {"source": "test", "bot": False, "event_type": event, "tool_id": tool},
    }
    return json.dumps(record)


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as fh:
        for text in lines:
            fh.write(text + "\n")
