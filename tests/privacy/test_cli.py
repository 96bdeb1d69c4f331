"""`headwater privacy ...` as a user runs it with no server: a deletion runs in the command (and
resumes after kill -9 where it stopped), status and export show what is stored, bad input is one
line naming the argument."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.batch.etl import run_daily
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.privacy.proof import ids_in_files

PERSON, DEVICE, OTHER = "cli-person-5", "cli-device-5", "cli-other-5"


def history(data: Path) -> None:
    today = datetime.now(UTC).date()
    events = []
    for back in range(6, 0, -1):
        day = today - timedelta(days=back)
        stamp = f"{day:%Y-%m-%d}T09:00:00.000Z"
        events += [
            ev(stamp, user=PERSON, anon=DEVICE, type="identify"),
            ev(stamp, user=PERSON, event="Opened"),
            ev(stamp, user=OTHER, event="Opened"),
        ]
    for day in write_log(data, events):
        run_daily(data, day, "UTC")


def records(data: Path, subject: str) -> list[dict[str, object]]:
    out = cli(data, "privacy", "export", subject)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_delete_status_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history(data)
    before = records(data, PERSON)
    assert {r["store"] for r in before} >= {"log"} and len([r for r in before if r["store"] == "log"]) == 12
    done = cli(data, "privacy", "delete", "--anonymous", DEVICE, "--json")
    entry = json.loads(done.stdout)
    assert entry["status"] == "FINISHED" and entry["progress"]["log"]["lines_erased"] == 12, entry
    assert ids_in_files(data, [PERSON, DEVICE]) == {}
    assert records(data, PERSON) == [] and records(data, DEVICE) == []
    assert len(records(data, OTHER)) >= 6
    listed = cli(data, "privacy", "status").stdout
    assert entry["id"] in listed and "FINISHED" in listed
    shown = json.loads(cli(data, "privacy", "status", entry["id"], "--json").stdout)
    assert shown["subject"]["anonymousId"].startswith("hmac:")
    assert "nothing to run" in cli(data, "privacy", "run").stderr


def test_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = cli(data, "privacy", "delete", "", check=False)
    assert empty.returncode == 2 and "SUBJECT is empty" in empty.stderr
    unknown = cli(data, "privacy", "status", "reg_nothing", check=False)
    assert unknown.returncode == 2 and "no regulation 'reg_nothing'" in unknown.stderr
    assert "Traceback" not in empty.stderr + unknown.stderr
    assert "no privacy requests yet" in cli(data, "privacy", "status").stderr
    nobody = json.loads(cli(data, "privacy", "delete", "never-seen", "--json").stdout)
    assert nobody["status"] == "FINISHED" and nobody["progress"]["log"]["lines_erased"] == 0
    for command in ("delete", "suppress", "unsuppress", "status", "run", "export"):
        assert cli(data, "privacy", command, "--help").returncode == 0


def test_kill_9_in_the_lake_step_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history(data)
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_TEST_ERASE_PAUSE_SECONDS": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater", "privacy", "delete", PERSON, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the lake step has swapped a file or two
        status = json.loads(cli(data, "privacy", "status", "--json").stdout)["regulations"]
        if status and status[0]["progress"].get("log", {}).get("status") == "FINISHED":
            break
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    (stuck,) = json.loads(cli(data, "privacy", "status", "--json").stdout)["regulations"]
    assert stuck["status"] == "RUNNING" and stuck["progress"]["log"]["status"] == "FINISHED", stuck
    assert "lake" not in stuck["progress"] or stuck["progress"]["lake"]["status"] != "FINISHED"
    resumed = json.loads(cli(data, "privacy", "run", stuck["id"], "--json").stdout)
    assert resumed["status"] == "FINISHED", resumed
    assert resumed["progress"]["log"] == stuck["progress"]["log"]  # not run twice
    assert ids_in_files(data, [PERSON, DEVICE]) == {}
    assert not [p for p in (data / "lake").rglob("*.tmp") if p.is_file()]
