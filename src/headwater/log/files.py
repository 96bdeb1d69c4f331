"""Names of log files: ``<kind>-YYYYMMDD.<writer>.jsonl``, one per UTC day per writer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

LogKind = Literal["events", "quarantine", "decisions"]

_NAME_RE = re.compile(r"^(events|quarantine|decisions)-(\d{8})\.([A-Za-z0-9_-]+)\.jsonl$")


@dataclass(frozen=True, slots=True, order=True)
class LogFile:
    day: date
    writer: str
    kind: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def log_file_name(kind: LogKind, day: date, writer: str) -> str:
    return f"{kind}-{day:%Y%m%d}.{writer}.jsonl"


def parse_log_file_name(path: Path) -> LogFile | None:
    match = _NAME_RE.match(path.name)
    if match is None:
        return None
    kind, day_text, writer = match.groups()
    try:  # date(), not strptime: a query lists every log file, and strptime took 0.1 ms a name
        day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:8]))
    except ValueError:
        return None
    return LogFile(day=day, writer=writer, kind=kind, path=path)


def list_log_files(log_dir: Path, kind: LogKind = "events") -> list[LogFile]:
    """Every log file of a kind, oldest day first, then by writer."""
    if not log_dir.is_dir():
        return []
    found = []
    for path in log_dir.iterdir():
        parsed = parse_log_file_name(path)
        if parsed is not None and parsed.kind == kind:
            found.append(parsed)
    return sorted(found)
