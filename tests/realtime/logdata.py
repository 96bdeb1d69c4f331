"""Writing log lines as the collector does, for tailer and store tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event(
    user: str | None = "u1",
    at: datetime = T0,
    name: str = "Clicked",
    tool: Any = "editor",
    anon: str | None = None,
    etype: str = "track",
    received: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    hw: dict[str, Any] = {"source": "test", "bot": False, "event_type": name if etype == "track" else etype}
    if tool is not None:
        hw["tool_id"] = tool
    ev: dict[str, Any] = {"type": etype, "messageId": uuid4().hex, "timestamp": iso(at)}
    if etype == "track":
        ev["event"] = name
    if user is not None:
        ev["userId"] = user
    if anon is not None:
        ev["anonymousId"] = anon
    ev["receivedAt"] = iso(received or at)
    ev["_hw"] = hw
    ev.update(extra)
    return ev


def log_file(log_dir: Path, writer: str = "w", day: datetime = T0) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"events-{day:%Y%m%d}.{writer}.jsonl"


def append(path: Path, *events: dict[str, Any] | str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for ev in events:
            fh.write((ev if isinstance(ev, str) else json.dumps(ev, separators=(",", ":"))) + "\n")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
