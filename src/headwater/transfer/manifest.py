"""The record of one file's import: ``data/run/imports/<sha256 of the file>.json``.

Rewritten atomically after each chunk, once that chunk's lines are fsynced in the log: it never
claims more than the log holds. A rerun reads it to skip what is done (a finished file adds
nothing), to continue after an interruption, and, for a truncated gzip archive fixed since (the
old file is a prefix of the new one), to continue from the line the truncation stopped at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec

from headwater.atomic_file import write_atomic
from headwater.log.lock import FileLock

RUNNING, DONE, TRUNCATED = "running", "done", "truncated"


class ImportState(msgspec.Struct, kw_only=True):
    key: str  # SHA-256 of the file's bytes
    import_id: str  # the key of the first copy imported (a fixed truncated file keeps its id)
    file: str  # the path given (for people; the key is the identity)
    name: str
    size: int
    status: str = RUNNING
    lines: int = 0  # lines done (committed) from the start
    offset: int = 0  # decompressed bytes done
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0
    suppressed: int = 0
    codes: dict[str, int] = msgspec.field(default_factory=dict)
    formats: dict[str, int] = msgspec.field(default_factory=dict)
    days: list[str] = msgspec.field(default_factory=list)  # received UTC days written (log files)
    dates: list[str] = msgspec.field(default_factory=list)  # UTC event dates written
    error: str | None = None
    writer: str = ""
    started_at: str = ""
    updated_at: str = ""
    finished_at: str | None = None


class Manifests:
    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "imports"

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def read(self, key: str) -> ImportState | None:
        try:
            return msgspec.json.decode(self.path(key).read_bytes(), type=ImportState)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None  # unreadable (e.g. cut by a power failure): start over; dedup keeps it exact

    def save(self, state: ImportState) -> None:
        state.updated_at = _now()
        write_atomic(self.path(state.key), msgspec.json.format(msgspec.json.encode(state)))

    def truncated_of(self, name: str) -> list[ImportState]:
        """Truncated imports of a file of this name: candidates for a fixed copy to continue."""
        if not self.dir.is_dir():
            return []
        found = []
        for path in sorted(self.dir.glob("*.json")):
            state = self.read(path.stem)
            if state is not None and state.status == TRUNCATED and state.name == name:
                found.append(state)
        return found

    def lock(self, key: str) -> FileLock:
        """Held while the file is imported: the same file is never imported twice at once."""
        return FileLock(self.dir / f".{key}.lock")

    def start(self, key: str, path: Path, size: int, prefixes: dict[int, str]) -> ImportState:
        """This file's state: where an earlier run of it stopped, or where the truncated copy it
        continues stopped, or a new one."""
        state = self.read(key)
        if state is not None:
            return state
        for old in self.truncated_of(path.name):
            if prefixes.get(old.size) == old.key:
                cont = msgspec.structs.replace(
                    old, key=key, file=str(path), size=size, status=RUNNING, error=None, finished_at=None
                )
                return cont
        return ImportState(
            key=key, import_id=key, file=str(path), name=path.name, size=size, started_at=_now()
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
