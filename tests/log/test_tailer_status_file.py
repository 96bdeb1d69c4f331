"""The active tailer's status file, read by the processes standing by (their /readyz)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from headwater.log.tailing.service import StatusFile
from headwater.log.tailing.tailer import TailerStatus


class _FakeTailer:
    """Only the status attribute the hook reads (a Tailer needs a store to exist)."""

    def __init__(self) -> None:
        self.status = TailerStatus(state="running", applied_events=42, lag_events=7, lag_seconds=1.5)


def test_standby_reads_what_the_active_process_wrote(tmp_path: Path) -> None:
    sf = StatusFile(tmp_path, "realtime", every=60)
    t = _FakeTailer()
    sf(t)  # type: ignore[arg-type]
    got = StatusFile(tmp_path, "realtime").read()
    assert got is not None
    assert got["active_pid"] == os.getpid() and got["applied_events"] == 42 and got["lag_events"] == 7
    assert got["status_age_seconds"] < 5
    # throttled: same state within `every` seconds is not rewritten ...
    t.status.applied_events = 43
    sf(t)  # type: ignore[arg-type]
    assert StatusFile(tmp_path, "realtime").read()["applied_events"] == 42  # type: ignore[index]
    # ... but a change of state is
    t.status.state = "retrying"
    sf(t)  # type: ignore[arg-type]
    assert StatusFile(tmp_path, "realtime").read()["state"] == "retrying"  # type: ignore[index]


def test_status_of_a_dead_process_or_garbage_is_none(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    pid = int(dead.stdout)
    path = tmp_path / "tailer-live.status.json"
    path.write_text(json.dumps({"state": "running", "pid": pid, "written_at": 0}))
    assert StatusFile(tmp_path, "live").read() is None
    path.write_text("{not json")
    assert StatusFile(tmp_path, "live").read() is None
    assert StatusFile(tmp_path, "missing").read() is None


def test_an_old_status_says_so(tmp_path: Path) -> None:
    path = tmp_path / "tailer-live.status.json"
    path.write_text(json.dumps({"state": "running", "pid": os.getpid(), "written_at": 1.0}))
    got = StatusFile(tmp_path, "live").read()
    assert got is not None and got["state"].startswith("unknown")
