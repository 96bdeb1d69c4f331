"""Reading the log from checkpointed positions: (file name, byte offset) per file.

Writers append concurrently to their own files, so there is no single order across writers; a
checkpoint is the map of every file's next offset. Only complete lines (ending in a newline)
are ever returned, so a line still being written is never seen half-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from headwater.log.files import LogFile, LogKind, list_log_files


@dataclass(frozen=True, slots=True)
class LogLine:
    file: str
    offset: int
    end: int
    data: bytes


@dataclass(slots=True)
class ReadBatch:
    lines: list[LogLine]
    checkpoint: dict[str, int]  # the checkpoint after these lines

    @property
    def empty(self) -> bool:
        return not self.lines


class LogReader:
    def __init__(self, log_dir: Path, kind: LogKind = "events") -> None:
        self.log_dir = log_dir
        self.kind = kind

    def files(self) -> list[LogFile]:
        return list_log_files(self.log_dir, self.kind)

    def pending_bytes(self, checkpoint: Mapping[str, int]) -> int:
        """Bytes of the log not yet covered by the checkpoint (a measure of lag)."""
        total = 0
        for lf in self.files():
            try:
                size = lf.path.stat().st_size
            except FileNotFoundError:
                continue
            total += max(0, size - checkpoint.get(lf.name, 0))
        return total

    def read(
        self, checkpoint: Mapping[str, int], max_lines: int = 10_000, max_bytes: int = 16 << 20
    ) -> ReadBatch:
        """Up to ``max_lines`` complete lines after the checkpoint, oldest files first."""
        new_cp = dict(checkpoint)
        lines: list[LogLine] = []
        budget = max_bytes
        for lf in self.files():
            if len(lines) >= max_lines or budget <= 0:
                break
            start = checkpoint.get(lf.name, 0)
            try:
                with open(lf.path, "rb") as fh:
                    fh.seek(start)
                    chunk = fh.read(budget)
            except FileNotFoundError:
                continue
            cut = chunk.rfind(b"\n")
            if cut < 0:
                continue
            pos = start
            i = 0
            while i <= cut and len(lines) < max_lines:
                nl = chunk.index(b"\n", i)
                lines.append(LogLine(file=lf.name, offset=pos, end=start + nl + 1, data=chunk[i:nl]))
                i = nl + 1
                pos = start + i
            budget -= pos - start
            new_cp[lf.name] = pos
        return ReadBatch(lines=lines, checkpoint=new_cp)
