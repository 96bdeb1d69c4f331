"""The data directory is private: a server makes it 0700 and everything in it 0700 / 0600 (logs,
the SQLite store, the admin token, the lake), and says once at start, with the fix, when an existing
one is open to other users."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx

from headwater.ops.permissions import ENTRIES_PER_DIR, describe, too_open
from tests.helpers import Server, cli


def modes(root: Path) -> dict[Path, int]:
    """Every path under root (root too) -> its permission bits, symlinks left out."""
    out = {root: stat.S_IMODE(root.lstat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            if not stat.S_ISLNK(st.st_mode):
                out[path] = stat.S_IMODE(st.st_mode)
    return out


def warnings_in(stderr: str) -> list[dict[str, object]]:
    out = []
    for line in stderr.splitlines():
        if "go-rwx" in line:
            out.append(json.loads(line))
    return out


def test_a_fresh_server_keeps_its_data_private(tmp_path: Path) -> None:
    data = tmp_path / "data"  # made by the server itself, not by the test (its stderr goes elsewhere)
    with Server(tmp_path / "harness", env={"HEADWATER_DATA_DIR": str(data)}) as srv:
        key = cli(data, "keys", "create", "web").stdout.strip().splitlines()[-1]
        cli(data, "audiences", "keys", "create", "exchange")
        batch = [
            {"type": "identify", "userId": f"u{i}", "traits": {"email": f"u{i}@example.com"}}
            for i in range(5)
        ]
        r = httpx.post(f"{srv.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
        assert r.status_code == 200 and r.json()["accepted"] == 5
        stderr = srv.stderr()
    assert warnings_in(stderr) == []
    today = datetime.now(UTC).date().isoformat()
    cli(data, "etl", "daily", "--date", today)  # lake files too
    found = modes(data)
    names = {p.relative_to(data).as_posix() for p in found}
    assert {"admin_token", "realtime.sqlite3", "log", "lake"} <= names
    assert any(n.startswith("log/events-") for n in names) and any(n.endswith(".parquet") for n in names)
    assert found[data] == 0o700
    loose = {p: f"{m:04o}" for p, m in found.items() if m & 0o077 or (p.is_file() and m != 0o600)}
    assert loose == {}


def test_an_open_data_dir_gives_one_warning_naming_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "log").mkdir(parents=True)
    os.chmod(data, 0o755)
    (data / "notes.txt").write_text("user ids\n")
    os.chmod(data / "notes.txt", 0o644)
    with Server(tmp_path / "harness", env={"HEADWATER_DATA_DIR": str(data)}) as srv:
        pass
    found = warnings_in(srv.stderr())
    assert len(found) == 1, srv.stderr()
    line = found[0]
    assert line["level"] == "warning" and line["too_open"] == 3  # data/, data/log/, data/notes.txt
    msg = str(line["msg"])
    assert msg.startswith("3 paths of the data directory are open to other users")
    assert f"{data} (0755)" in msg and f"{data / 'notes.txt'} (0644)" in msg
    assert msg.endswith(f"Fix: chmod -R go-rwx {data}") and line["fix"] == f"chmod -R go-rwx {data}"
    # the fix works: no warning at the next start
    subprocess.run(["chmod", "-R", "go-rwx", str(data)], check=True)
    with Server(tmp_path / "harness2", env={"HEADWATER_DATA_DIR": str(data)}) as again:
        pass
    assert warnings_in(again.stderr()) == []


def test_only_the_top_levels_are_looked_at(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = data / "log"
    log.mkdir(parents=True, mode=0o700)
    os.chmod(data, 0o700)
    for i in range(50):
        (log / f"events-{i:03}.jsonl").touch(mode=0o644)
    (data / "lake" / "events" / "date=2026-01-01").mkdir(parents=True, mode=0o755)
    os.chmod(data / "lake", 0o700)
    deep = data / "lake" / "events" / "date=2026-01-01" / "part.parquet"
    deep.touch(mode=0o644)
    (data / "link").symlink_to(log / "events-000.jsonl")  # a symlink's own mode means nothing
    found = too_open(data)
    assert sum(p.parent == log for p in found) == ENTRIES_PER_DIR  # the first few log files, not 50
    assert data / "lake" / "events" in found and deep not in found  # two levels down: not walked
    assert data / "link" not in found and data not in found
    assert too_open(tmp_path / "missing") == []
    text = describe(data, found)
    assert text.startswith(f"{len(found)} paths") and f"and {len(found) - 3} more" in text
