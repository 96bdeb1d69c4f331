"""Crash recovery: a torn last line (no newline at the end) is cut off at start.

Nothing after the last newline was ever acknowledged (an ack needs the whole write), so cutting
it loses nothing acknowledged; the fragment itself is handed back so it can be quarantined.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class TornTail:
    path: Path
    offset: int
    fragment: bytes


def repair_torn_tail(path: Path) -> TornTail | None:
    """Truncate ``path`` after its last newline; return what was cut, or None if it was intact."""
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return None
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - _CHUNK)
            fh.seek(start)
            chunk = fh.read(end - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            end = start
        fh.seek(keep)
        fragment = fh.read(size - keep)
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return TornTail(path=path, offset=keep, fragment=fragment)
