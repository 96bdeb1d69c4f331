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
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.batch.etl import run_daily
from headwater.privacy.deletion import STEPS
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.privacy.proof import ids_in_files

PERSON, DEVICE, OTHER = "cli-person-5", "cli-device-5", "cli-other-5"
OTHERS = (OTHER, "cli-other-6", "cli-other-7", "cli-device-7")  # cli-device-7 is cli-other-7's
#: each lake table, and how a row of it names a person: by id, by DuckDB's hash() of it, by dense id
LAKE_TABLES = {
    "events/*/*.parquet": "{name} IN (user_id, anonymous_id, previous_id) OR actor IN {actors}",
    "user_days/*.parquet": "actor IN {actors}",
    "traits/*.parquet": "actor IN {actors}",
    "event_people/*.parquet": "actor_hash IN (hash({name}), hash('anon:' || {name}))",
    "sessions/*.parquet": "actor_hash IN (hash({name}), hash('anon:' || {name}))",
    "person_days/*.parquet": "aid IN (SELECT aid FROM read_parquet('{lake}/identity/actors.parquet')"
    " WHERE name IN {actors}) OR aid IN {aids}",
    "identity/links/*.parquet": 'source IN {actors} OR "user" = {name}',
    "identity/map.parquet": "key IN {actors} OR user_id = {name}",
}


def history(data: Path) -> None:
    today = datetime.now(UTC).date()
    events = []
    for back in range(6, 0, -1):
        day = today - timedelta(days=back)
        stamp = f"{day:%Y-%m-%d}T09:00:00.000Z"
        events += [
            ev(stamp, user=PERSON, anon=DEVICE, type="identify", traits={"plan": "pro"}),
            ev(stamp, user=PERSON, event="Opened"),
            ev(stamp, user=OTHER, event="Opened"),
            *(ev(stamp, user="cli-other-6", event="Saved") for _ in range(back % 3)),
            ev(stamp, user="cli-other-7", anon="cli-device-7", type="identify", traits={"plan": "free"}),
            ev(stamp, anon="cli-device-7", event="Opened"),
        ]
    for day in write_log(data, events):
        run_daily(data, day, "UTC")


def lake_rows(data: Path, names: Iterable[str], aids: dict[str, int]) -> Counter[tuple[str, str]]:
    """{(table, person): rows} of the lake, every Parquet file read through DuckDB."""
    import duckdb

    lake = data / "lake"
    counts: Counter[tuple[str, str]] = Counter()
    con = duckdb.connect()
    try:
        for pattern, condition in LAKE_TABLES.items():
            for name in names:
                known = [aids[a] for a in (name, "anon:" + name) if a in aids]  # named before
                where = condition.format(
                    name="$name",
                    actors="($name, 'anon:' || $name)",
                    lake=lake,
                    aids="(" + ", ".join(map(str, known or [-1])) + ")",
                )
                (n,) = con.execute(
                    f"SELECT count(*) FROM read_parquet('{lake}/{pattern}') WHERE {where}", {"name": name}
                ).fetchone() or (0,)
                counts[pattern, name] = n
    finally:
        con.close()
    return counts


def dense_ids(data: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT name, aid FROM read_parquet('{data}/lake/identity/actors.parquet')")
        return {str(name): int(aid) for name, aid in rows.fetchall() if name}
    finally:
        con.close()


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
    # the access requests filed since (finding nothing of the person) did not store their ids again
    assert ids_in_files(data, [PERSON, DEVICE]) == {}
    listed = cli(data, "privacy", "status").stdout
    assert entry["id"] in listed and "FINISHED" in listed
    table = cli(data, "privacy", "status", entry["id"]).stdout.splitlines()
    steps = [line.split()[0] for line in table[1:]]
    run = [s for s in STEPS if s in entry["progress"]]
    assert steps[: len(run)] == run and len(run) >= 5, table  # as they run, other entries after
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
    aids = dense_ids(data)
    everyone = [PERSON, DEVICE, *OTHERS]
    before = lake_rows(data, everyone, aids)
    for name in OTHERS:  # every other person is in the lake, in every table that can hold them
        assert before["events/*/*.parquet", name] >= 6 or name == "cli-other-6", before
        assert before["event_people/*.parquet", name] > 0 or name == "cli-device-7", before
    assert before["traits/*.parquet", "cli-other-7"] > 0 and before["identity/map.parquet", "cli-device-7"]
    assert before["person_days/*.parquet", "cli-other-6"] == 4, before
    assert before["events/*/*.parquet", PERSON] == 12 and before["traits/*.parquet", PERSON] > 0, before
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
    others = {key: n for key, n in before.items() if key[1] in OTHERS}
    killed = lake_rows(data, OTHERS, aids)
    assert killed == others, {k: (n, killed[k]) for k, n in others.items() if killed[k] != n}
    assert lake_rows(data, [PERSON, DEVICE], aids).total() > 0  # the kill came before the lake was done
    resumed = json.loads(cli(data, "privacy", "run", stuck["id"], "--json").stdout)
    assert resumed["status"] == "FINISHED", resumed
    assert resumed["progress"]["log"] == stuck["progress"]["log"]  # not run twice
    assert ids_in_files(data, [PERSON, DEVICE]) == {}
    assert not [p for p in (data / "lake").rglob("*.tmp") if p.is_file()]
    resumed_rows = lake_rows(data, everyone, aids)
    assert {k: n for k, n in resumed_rows.items() if k[1] in OTHERS} == others
    assert dense_ids(data) == {k: v for k, v in aids.items() if k not in (PERSON, "anon:" + DEVICE)}
    assert {k: n for k, n in resumed_rows.items() if n and k[1] in (PERSON, DEVICE)} == {}
