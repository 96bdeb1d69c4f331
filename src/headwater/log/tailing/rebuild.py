"""Rebuilding a tailer's store from the log, with the server stopped or running.

Each tailer feature gives a :data:`Rebuild`: forget what its store derived (all of it, or from a
day), then apply the log again until caught up. It runs with the tailer's lock held: by the CLI
when no server runs (``headwater replay NAME``), or by the server process that runs the tailer,
when the CLI asks it to with a request file ``<run_dir>/tailer-<name>.rebuild``: the server stops
tailing, rebuilds (collection goes on; its status shows the progress), deletes the request and
tails on. Nobody is told to stop a server to rebuild.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.log.tailing.tailer import Tailer


@dataclass(slots=True)
class RebuildResult:
    applied_lines: int
    quarantined: int
    suppressed: int = 0  # events of suppressed people skipped (docs/privacy.md)


#: (from_day or None for everything, stop, on_step) -> what was applied
Rebuild = Callable[[date | None, threading.Event, Callable[[Tailer[Any]], None] | None], RebuildResult]


def request_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"tailer-{name}.rebuild"


def request_rebuild(run_dir: Path, name: str, from_day: date | None) -> float:
    """Ask the process running tailer ``name`` to rebuild; the moment asked (unix seconds)."""
    asked = time.time()
    body = {"from": from_day.isoformat() if from_day else None, "asked_at": asked, "pid": os.getpid()}
    write_atomic(request_path(run_dir, name), json.dumps(body).encode())
    return asked


def pending_rebuild(run_dir: Path, name: str) -> tuple[bool, date | None]:
    """(whether a rebuild is asked for, from which day)."""
    try:
        body = json.loads(request_path(run_dir, name).read_text())
    except FileNotFoundError:
        return False, None
    except (OSError, ValueError):
        return True, None  # unreadable: a full rebuild is the safe reading
    text = body.get("from") if isinstance(body, dict) else None
    try:
        return True, date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return True, None


def result_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"tailer-{name}.rebuilt"


def rebuild_done(run_dir: Path, name: str, result: RebuildResult) -> None:
    """The request answered: what the rebuild applied kept for the command that asked (written
    before the request goes, so a command that sees no request finds it)."""
    done = {"done_at": time.time(), **asdict(result)}
    write_atomic(result_path(run_dir, name), json.dumps(done).encode())
    request_path(run_dir, name).unlink(missing_ok=True)


def rebuilt_since(run_dir: Path, name: str, since: float) -> RebuildResult | None:
    """What the last rebuild of tailer ``name`` applied, if it finished at ``since`` or later."""
    try:
        done = json.loads(result_path(run_dir, name).read_text())
        if float(done["done_at"]) < since:
            return None
        return RebuildResult(**{f.name: int(done[f.name]) for f in fields(RebuildResult)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RebuildWatch:
    """A tailer's on_step hook: stops its run when a rebuild is asked for (a stat at most every
    ``every`` seconds)."""

    def __init__(self, run_dir: Path, name: str, stop: threading.Event, every: float = 0.5) -> None:
        self.path = request_path(run_dir, name)
        self.stop = stop
        self.every = every
        self._checked = 0.0

    def __call__(self, tailer: Tailer[Any]) -> None:
        now = time.monotonic()
        if now - self._checked < self.every:
            return
        self._checked = now
        if self.path.exists():
            self.stop.set()
