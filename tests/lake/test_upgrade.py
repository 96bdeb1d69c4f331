"""The derived columns (lake/derived.py) on every row of a lake written before them: the monthly
archive computes them for the rows of older files, and ``headwater etl upgrade`` rewrites the old and
mixed files once, the other columns and the rows' order as they were, the answers unchanged; a run
killed midway leaves whole files only.

The lakes: tests/insights/data.py's log loaded by the real ETL (``new``), then files made as the ETL
and the archive wrote them before the columns (tests/insights/test_derived_columns.py's helpers).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.lake.derived import COLUMNS, MARK, file_state
from headwater.lake.layout import Lake
from headwater.lake.sql import file_list, quote
from headwater.lake.upgrade import PAUSE_ENV, TMP_SUFFIX, upgrade_hint, upgrade_lake
from tests.batch.logdata import ev, write_log
from tests.helpers import HEADWATER, cli
from tests.insights.data import DAYS, build
from tests.insights.test_derived_columns import _answers, old_archive, strip


@pytest.fixture(scope="module")
def new(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("upgrade") / "new"
    build(data)
    return data


@pytest.fixture(scope="module")
def want(new: Path) -> dict[str, str]:
    return _answers(new)


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def old_lake(new: Path, dst: Path) -> Path:
    """A lake as the code before the columns left it: the files of the first four dates without
    them, compacted with two newer dates into a mixed archive of March; the next date's file old
    too, the last one's new (loaded after the change)."""
    data = copy(new, dst)
    lake = Lake(data / "lake")
    for path in lake.event_files(None, DAYS[3]):
        strip(path)
    old_archive(lake, 2026, 3, lake.event_files(None, DAYS[5]))
    for path in lake.event_files(DAYS[6], DAYS[6]):
        if path.parent.parent == lake.events_dir:  # not the archive
            strip(path)
    return data


def states(lake: Lake) -> dict[str, str]:
    return {str(p.relative_to(lake.root)): file_state(p) for p in lake.event_files()}


def snapshot(lake: Lake) -> dict[str, tuple[int, str]]:
    """Every event file's modification time and content."""
    return {
        str(p.relative_to(lake.root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in lake.event_files()
    }


def others(path: Path) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    """The columns but the derived ones (names and types) and their rows, in the file's order."""
    con = duckdb.connect()
    try:
        read = f"read_parquet({quote(str(path))}, hive_partitioning = false)"
        names = [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()]
        kept = [n for n in names if n[0] not in (*COLUMNS, MARK)]
        listed = ", ".join(f'"{n}"' for n, _ in kept)
        return kept, con.execute(f"SELECT {listed} FROM {read}").fetchall()
    finally:
        con.close()


def derived(lake: Lake) -> dict[str, tuple[Any, ...]]:
    """Each event's derived columns, by message id, over every event file."""
    con = duckdb.connect()
    try:
        read = (
            f"read_parquet({file_list(lake.event_files())}, union_by_name = true, hive_partitioning = false)"
        )
        rows = con.execute(f"SELECT message_id, {', '.join([*COLUMNS, MARK])} FROM {read}").fetchall()
    finally:
        con.close()
    return {str(r[0]): tuple(r[1:]) for r in rows}


def upgrade_cli(data: Path, *args: str) -> dict[str, Any]:
    out = cli(data, "etl", "upgrade", *args, "--json")
    report: dict[str, Any] = json.loads(out.stdout)
    return report


@pytest.mark.parametrize("before", ["daily", "archive"])
def test_the_archive_computes_the_columns_of_older_rows(
    new: Path, want: dict[str, str], tmp_path: Path, before: str
) -> None:
    """A month of old and new daily files (``daily``), or a mixed archive of the code before and
    daily files (``archive``), compacted: every row has the columns, as the ETL computes them."""
    data = copy(new, tmp_path / "lake")
    lake = Lake(data / "lake")
    for path in lake.event_files(None, DAYS[3]):
        strip(path)
    if before == "archive":
        old_archive(lake, 2026, 3, lake.event_files(None, DAYS[5]))
    assert set(states(lake).values()) == {"new", "old" if before == "daily" else "mixed"}
    out = archive_month(data, 2026, 3)
    assert out["rows"] == len(derived(Lake(new / "lake")))
    assert list(states(lake).values()) == ["new"]  # March's archive, every row with the columns
    assert derived(lake) == derived(Lake(new / "lake"))
    assert {v[-1] for v in derived(lake).values()} == {1}
    assert _answers(data) == want


def test_upgrade_rewrites_the_old_files_once(new: Path, want: dict[str, str], tmp_path: Path) -> None:
    data = old_lake(new, tmp_path / "old")
    lake = Lake(data / "lake")
    before = states(lake)
    todo = sorted(k for k, v in before.items() if v != "new")
    assert set(before.values()) == {"old", "mixed", "new"} and len(todo) == 2
    assert _answers(data) == want
    hint = upgrade_hint(lake)
    assert hint is not None and hint.startswith(f"2 of {len(before)} event files")
    kept = {k: others(lake.root / k) for k in todo}
    files = snapshot(lake)

    dry = upgrade_cli(data, "--dry-run")
    assert dry["dry_run"] and dry["files_scanned"] == len(before) and sorted(dry["files"]) == todo
    rows = {k: len(kept[k][1]) for k in todo}
    assert dry["rows_rewritten"] == sum(rows.values())
    stripped = sum(n for k, n in rows.items() if before[k] == "old")
    assert stripped < dry["rows_computed"] < dry["rows_rewritten"]  # the archive's older rows only
    assert snapshot(lake) == files  # nothing changed
    assert "would rewrite 2 of" in cli(data, "etl", "upgrade", "--dry-run").stdout

    done = upgrade_cli(data)
    assert {k: done[k] for k in ("files_rewritten", "rows_rewritten", "rows_computed")} == {
        k: dry[k] for k in ("files_rewritten", "rows_rewritten", "rows_computed")
    }
    assert sorted(done["files"]) == todo and done["bytes_after"] > 0
    assert set(states(lake).values()) == {"new"} and upgrade_hint(lake) is None
    for k in todo:  # the same rows in the same order, every other column as it was
        assert others(lake.root / k) == kept[k], k
    untouched = {k: v for k, v in snapshot(lake).items() if k not in todo}
    assert untouched == {k: v for k, v in files.items() if k not in todo}
    assert derived(lake) == derived(Lake(new / "lake"))  # the ETL's values, to the row
    assert _answers(data) == want

    upgraded = snapshot(lake)
    again = cli(data, "etl", "upgrade")
    assert again.stdout.startswith("Nothing to upgrade: every event file")
    assert upgrade_cli(data)["files_rewritten"] == 0
    assert snapshot(lake) == upgraded


def test_a_killed_upgrade_leaves_whole_files(new: Path, want: dict[str, str], tmp_path: Path) -> None:
    data = old_lake(new, tmp_path / "old")
    lake = Lake(data / "lake")
    before = states(lake)
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), PAUSE_ENV: "60"}
    proc = subprocess.Popen([*HEADWATER, "etl", "upgrade"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(lake.root.rglob(f"*{TMP_SUFFIX}")) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the copy written, not renamed yet
    finally:
        proc.kill()
        proc.wait()
    (written,) = lake.root.rglob(f"*{TMP_SUFFIX}")
    original = written.with_name(written.name[1 : -len(TMP_SUFFIX)])
    assert states(lake) == before and file_state(original) != "new"  # the original, whole
    # a run killed while writing the copy of another file leaves half of one
    other = next(lake.root / k for k, v in before.items() if v != "new" and lake.root / k != original)
    half = other.with_name(f".{other.name}{TMP_SUFFIX}")
    half.write_bytes(other.read_bytes()[: other.stat().st_size // 2])
    assert _answers(data) == want  # readers see the originals only

    report = upgrade_lake(lake)
    assert report.strays_removed == 2 and report.files_rewritten == 2
    assert not list(lake.root.rglob(f"*{TMP_SUFFIX}"))
    assert set(states(lake).values()) == {"new"}
    assert derived(lake) == derived(Lake(new / "lake"))
    assert _answers(data) == want


def test_the_command_line(tmp_path: Path) -> None:
    out = cli(tmp_path, "etl", "upgrade", "--help")
    assert "--dry-run" in out.stdout and "--json" in out.stdout
    missing = cli(tmp_path / "nowhere", "etl", "upgrade", check=False)
    assert missing.returncode == 2 and "no data directory" in missing.stderr
    nolake = cli(tmp_path, "etl", "upgrade", check=False)
    assert nolake.returncode == 1 and "no lake at" in nolake.stderr

    # a lake with an old day: the daily ETL says once what to run; after the upgrade, nothing
    days = write_log(
        tmp_path,
        [
            ev("2026-03-30T10:00:00.000Z", user="u1"),
            ev("2026-03-31T10:00:00.000Z", user="u2"),
        ],
    )
    run_daily(tmp_path, days[0], "UTC")
    for path in Lake(tmp_path / "lake").event_files():
        strip(path)
    loaded = cli(tmp_path, "etl", "daily", "--date", days[1].isoformat())
    assert "1 of 2 event files" in loaded.stderr and "`headwater etl upgrade`" in loaded.stderr
    assert "rewrote 1 of 2 event files: 1 rows" in cli(tmp_path, "etl", "upgrade").stdout
    again = cli(tmp_path, "etl", "daily", "--date", days[1].isoformat(), "--json")
    assert "upgrade" not in again.stderr and json.loads(again.stdout)["loaded"]
    assert cli(tmp_path, "etl", "upgrade").stdout.startswith("Nothing to upgrade")


def test_the_package_runs_the_command(tmp_path: Path) -> None:
    """`python -m headwater etl upgrade` over an empty lake: nothing to do, exit 0."""
    (tmp_path / "lake" / "events").mkdir(parents=True)
    out = subprocess.run(
        [sys.executable, "-m", "headwater", "etl", "upgrade", "--dry-run", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.startswith("Nothing to upgrade: every event file (0)")


def test_rows_keep_their_order(tmp_path: Path) -> None:
    """A small file upgraded after a big one: the user agents' table is then bigger than the file,
    and DuckDB builds the join on the file (a RIGHT join): the rows must still come out in order."""

    def seen(ts: str, agent: str | None) -> dict[str, Any]:
        out = ev(ts, user="u1")
        if agent is not None:
            out["context"]["userAgent"] = agent
        return out

    big = [seen(f"2026-03-30T10:{i // 60:02d}:{i % 60:02d}.000Z", f"Agent/{i}") for i in range(300)]
    small = [seen("2026-03-31T10:00:00.000Z", None)]
    small += [seen(f"2026-03-31T10:00:0{i}.000Z", f"Agent/{i}") for i in (7, 3, 5, 1)]
    for day in write_log(tmp_path, [*big, *small]):
        run_daily(tmp_path, day, "UTC")
    lake = Lake(tmp_path / "lake")
    files = lake.event_files()
    for path in files:
        strip(path)
    kept = {p: others(p) for p in files}
    assert upgrade_lake(lake).files_rewritten == 2
    for path in files:
        assert others(path) == kept[path], path


def test_the_server_says_when_the_lake_needs_upgrading(
    new: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from headwater.batch.scheduler import EtlScheduler
    from headwater.config import Settings

    data = old_lake(new, tmp_path / "data")
    scheduler = EtlScheduler(Settings(data_dir=data))  # the server's nightly ETL run
    with caplog.at_level("WARNING", logger="headwater.batch"):
        scheduler.run_once()
    hint = scheduler.status()[1].get("lake_upgrade")
    assert hint is not None and "`headwater etl upgrade`" in hint  # in /readyz's etl_scheduler check
    assert any("headwater etl upgrade" in r.getMessage() for r in caplog.records)
    upgrade_lake(Lake(data / "lake"))
    scheduler.run_once()
    assert "lake_upgrade" not in scheduler.status()[1]
