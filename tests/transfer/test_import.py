"""`headwater import`: real archive files through the real CLI, into the real log, lake and metrics."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import HEADWATER, Server, _live_group_members, cli, create_key, read_log
from tests.transfer.archives import (
    history,
    lines,
    rudder_message,
    segment_message,
    ts,
    write_gz,
    write_ndjson,
)

DAY1 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def run_import(data_dir: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [*HEADWATER, "import", *args],
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def summary(data_dir: Path, *args: str) -> dict[str, Any]:
    done = run_import(data_dir, *args, "--json")
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def ids(data_dir: Path) -> list[str]:
    return [e["messageId"] for e in read_log(data_dir)]


def dau(data_dir: Path, start: str, end: str) -> dict[str, int | None]:
    out = cli(data_dir, "metrics", "dau", "--start", start, "--end", end, "--json")
    return {r["date"]: r["value"] for r in json.loads(out.stdout)["rows"]}


def test_a_segment_archive_keeps_its_times_and_shows_in_every_day_of_the_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    skewed = segment_message(9000, DAY1 + timedelta(hours=5), "user-skew", skew=timedelta(hours=-7))
    messages = [*history(600, DAY1, days=3, users=40), skewed]
    archive = write_gz(tmp_path / "segment-logs" / "src1" / "1709542800000" / "part-0001.gz", messages)

    out = summary(data, str(archive))

    (result,) = out["files"]
    assert result["status"] == "imported" and result["format"] == "segment"
    assert (result["imported"], result["duplicates"], result["rejected"]) == (601, 0, 0)
    logged = {e["messageId"]: e for e in read_log(data)}
    assert len(logged) == 601
    for m in messages:
        e = logged[m["messageId"]]
        assert e["timestamp"] == m["timestamp"]  # Segment's corrected time, as stored: no new skew fix
        assert e["receivedAt"] == m["receivedAt"]
        assert e["originalTimestamp"] == m["originalTimestamp"] and e["sentAt"] == m["sentAt"]
        assert e["context"]["ip"] == "203.0.113.0"  # the collector's IP policy (truncate)
        assert e["_hw"]["source"] == "import"
        assert e["_hw"]["import"]["file"] == "part-0001.gz"
        assert e["_hw"]["ua"]["browser"] == "Safari"
    # one log file per received day, under the import's own writer id
    names = sorted(p.name for p in (data / "log").glob("events-*.jsonl"))
    assert names == [f"events-202403{d:02d}.import-1.jsonl" for d in (4, 5, 6, 7)]
    # the ETL loaded the days the import touched: DAU by hand from the archive
    users: dict[str, set[str]] = defaultdict(set)
    for m in messages:
        users[m["timestamp"][:10]].add(m["userId"])
    assert [ld["received_day"] for ld in out["lake"]] == [
        "2024-03-04",
        "2024-03-05",
        "2024-03-06",
        "2024-03-07",
    ]
    assert dau(data, "2024-03-04", "2024-03-07") == {d: len(u) for d, u in sorted(users.items())}
    assert sorted(p.name for p in (data / "lake" / "events").iterdir()) == [
        "date=2024-03-04",
        "date=2024-03-05",
        "date=2024-03-06",
        "date=2024-03-07",
    ]


def test_a_rudderstack_dump_is_read_with_its_request_ip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dump = write_gz(
        tmp_path / "rudder" / "dump.json.gz", [rudder_message(n, DAY1, f"u{n}") for n in range(5)]
    )

    out = summary(data, str(dump), "--no-etl")

    assert out["files"][0]["format"] == "rudderstack" and out["lake"] == []
    for e in read_log(data):
        assert "request_ip" not in e and e["context"]["ip"] == "198.51.100.0"
        assert e["rudderId"].startswith("rid-") and e["timestamp"] == ts(DAY1 - timedelta(seconds=1))


def test_the_second_run_of_a_file_adds_nothing_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    archive = write_gz(tmp_path / "a.gz", history(300, DAY1))
    first = summary(data, str(archive), "--no-etl")
    assert first["files"][0]["imported"] == 300

    again = run_import(data, str(archive), "--no-etl")

    assert again.returncode == 0
    assert "already imported, nothing to add" in again.stdout
    # the same events in another file (decompressed, renamed): every one a duplicate
    plain = tmp_path / "copy.ndjson"
    plain.write_bytes(gzip.decompress(archive.read_bytes()))
    copy = summary(data, str(plain), "--no-etl")["files"][0]
    assert (copy["imported"], copy["duplicates"]) == (0, 300)
    assert len(ids(data)) == 300


def test_messages_already_stored_are_skipped_while_a_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = [segment_message(n, DAY1 + timedelta(minutes=n), f"u{n % 3}") for n in range(10)]
    with Server(data) as srv:
        key = create_key(data)
        # five of them reached Headwater live (e.g. through Segment's webhook)
        live = [{k: m[k] for k in ("type", "event", "userId", "messageId", "timestamp")} for m in old[:5]]
        r = httpx.post(f"{srv.url}/v1/batch", json={"batch": live}, auth=(key, ""), timeout=10)
        assert r.status_code == 200 and r.json()["accepted"] == 5
        archive = write_gz(tmp_path / "old.gz", old)

        out = summary(data, str(archive))

        result = out["files"][0]
        assert (result["imported"], result["duplicates"]) == (5, 5)
        assert srv.readyz().status_code == 200
        assert "Traceback" not in srv.stderr()
    logged = read_log(data)
    assert sorted(e["messageId"] for e in logged) == sorted(m["messageId"] for m in old)
    writers = {e["_hw"]["source"] for e in logged}
    assert writers == {"test-source", "import"}
    assert list(dau(data, "2024-03-04", "2024-03-04").values()) == [3]


def test_events_without_ids(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = {"type": "track", "event": "Opened", "userId": "u1", "timestamp": "2024-03-04T10:00:00Z"}
    rows = [
        good,  # no messageId: one derived from its line and content
        {"type": "track", "event": "Opened", "timestamp": "2024-03-04T10:00:01Z"},  # no user at all
        good,  # the same content on another line: another event, another id
        {"type": "track", "event": "Opened", "anonymousId": "a1"},  # no time at all
    ]
    text = lines(rows) + b"this is not json\n" + b"[1, 2]\n"
    path = tmp_path / "events.ndjson"
    path.write_bytes(text)

    out = run_import(data, str(path), "--no-etl")

    assert out.returncode == 0, out.stderr
    assert "2 imported, 0 duplicates (already stored), 4 rejected (quarantined)" in out.stdout
    assert "events.ndjson line 2: missing_id: every event needs 'userId' or 'anonymousId'" in out.stdout
    assert "events.ndjson line 4: missing_timestamp" in out.stdout
    logged = read_log(data)
    assert len({e["messageId"] for e in logged}) == 2
    bad = {q["line"]: q for q in read_log(data, "quarantine")}
    assert {n: q["code"] for n, q in bad.items()} == {
        2: "missing_id",
        4: "missing_timestamp",
        5: "bad_json",
        6: "not_an_object",
    }
    assert bad[5]["event"] == "this is not json" and bad[2]["file"] == "events.ndjson"
    assert all(q["reason"] for q in bad.values())
    # the same file again: already imported; the same bytes through stdin (no record of its own):
    # the derived ids are the same, nothing added
    assert "already imported" in run_import(data, str(path), "--no-etl").stdout
    again = run_import(data, "-", "--no-etl", stdin=text)
    assert again.returncode == 0, again.stderr
    assert "0 imported, 2 duplicates" in again.stdout
    assert len(read_log(data)) == 2


def test_a_truncated_archive_imports_what_it_holds_and_continues_once_fixed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    whole = gzip.compress(lines(history(20_000, DAY1)))
    archive = tmp_path / "part.gz"
    archive.write_bytes(whole[: len(whole) // 2])

    cut = run_import(data, str(archive), "--no-etl")

    assert cut.returncode == 1
    assert f"{archive}: the gzip archive is truncated" in cut.stderr
    reached = int(cut.stderr.split("complete lines were read up to line ")[1].split()[0])
    assert 0 < reached < 20_000
    assert ids(data) == [f"ajs-{n:08d}" for n in range(reached)]
    archive.write_bytes(whole)  # fetched again, whole

    fixed = run_import(data, str(archive), "--no-etl")

    assert fixed.returncode == 0, fixed.stderr
    assert f"(continued at line {reached + 1})" in fixed.stdout
    assert f"{20_000 - reached:,} imported, 0 duplicates" in fixed.stdout
    assert sorted(ids(data)) == [f"ajs-{n:08d}" for n in range(20_000)]


CSV = "user;name;ts;plan\nu1;Signed Up;2024-03-04T10:00:00Z;pro\nu2;Signed Up;2024-03-04;free\n"


def test_a_csv_with_a_column_map(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "map.toml").write_text(
        'userId = "user"\nevent = "name"\ntimestamp = "ts"\n[properties]\nplan = "plan"\n'
    )
    path = tmp_path / "signups.csv"
    path.write_text(CSV.replace(";", ","))

    out = summary(data, str(path), "--map", str(tmp_path / "map.toml"))

    assert out["files"][0]["format"] == "csv" and out["files"][0]["imported"] == 2
    first, second = sorted(read_log(data), key=lambda e: e["userId"])
    assert first["event"] == "Signed Up" and first["properties"] == {"plan": "pro"}
    assert second["timestamp"] == "2024-03-04T00:00:00.000Z" and second["type"] == "track"
    assert dau(data, "2024-03-04", "2024-03-04") == {"2024-03-04": 2}


def test_a_gzipped_csv_without_a_map_uses_the_field_names(tmp_path: Path) -> None:
    data = tmp_path / "data"
    text = 'userId\tevent\ttimestamp\tplan\nu1\t"Opened, again"\t2024-03-04T10:00:00Z\tpro\n'
    path = tmp_path / "export.tsv.data"  # no telling name: gzip by its bytes, tab by the header
    path.write_bytes(gzip.compress(text.encode()))

    out = summary(data, str(path), "--no-etl")

    assert out["files"][0]["format"] == "csv" and out["files"][0]["imported"] == 1
    (e,) = read_log(data)
    assert (e["userId"], e["event"], e["properties"]) == ("u1", "Opened, again", {"plan": "pro"})


@pytest.mark.parametrize(
    ("text", "args", "quarantined", "message"),
    [
        (
            CSV.replace("ts;plan", "time;plan"),
            ["--map", "userId=user,event=name,timestamp=ts"],
            None,
            "line 1: column 'ts' (mapped to field 'timestamp') is not in the header",
        ),
        (
            CSV + "u3;Signed Up\n",
            ["--map", "userId=user,event=name,timestamp=ts"],
            4,
            "line 4: missing_column: field 'timestamp' (column 'ts') is missing: the row has 2 of 4 columns",
        ),
        (
            CSV + "u3;Signed Up;2024-02-30;pro\n",
            ["--map", "userId=user,event=name,timestamp=ts"],
            4,
            "line 4: bad_timestamp: field 'timestamp' is not an ISO 8601 timestamp: '2024-02-30'"
            " (column 'ts')",
        ),
        (
            CSV,
            ["--delimiter", ",", "--map", "userId=user,event=name,timestamp=ts"],
            None,
            "line 1: only one column found ('user;name;ts;plan') with delimiter ',': it looks ';'-separated,"
            " pass --delimiter ';'",
        ),
    ],
    ids=["missing-column", "short-row", "bad-date", "wrong-delimiter"],
)
def test_a_bad_csv_is_named_by_line_and_field(
    tmp_path: Path, text: str, args: list[str], quarantined: int | None, message: str
) -> None:
    data = tmp_path / "data"
    path = tmp_path / "signups.csv"
    path.write_text(text)

    out = run_import(data, str(path), "--no-etl", *args)

    said = out.stdout + out.stderr
    assert message in said.replace("\n", " ") or message in said, said
    if quarantined is None:  # the whole file refused, nothing written
        assert out.returncode == 1 and said.count("error:") == 1
        assert read_log(data) == []
    else:
        assert out.returncode == 0
        assert len(read_log(data)) == 2
        (bad,) = read_log(data, "quarantine")
        assert bad["line"] == quarantined and bad["file"] == "signups.csv"


def test_a_directory_imports_every_file_in_it_sorted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    root = tmp_path / "segment-logs"
    write_gz(root / "day2" / "b.gz", [segment_message(2, DAY1, "u2")])
    write_ndjson(root / "day1" / "a.ndjson", [segment_message(1, DAY1, "u1")])
    (root / ".hidden").write_text("not an archive")

    out = summary(data, str(root), "--no-etl")

    assert [Path(f["file"]).name for f in out["files"]] == ["a.ndjson", "b.gz"]
    assert sorted(ids(data)) == ["ajs-00000001", "ajs-00000002"]


def test_a_killed_import_continues_and_ends_with_each_event_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    count = 150_000
    archive = write_ndjson(tmp_path / "big.ndjson", history(count, DAY1, days=2, users=500))
    record = data / "run" / "imports"
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [*HEADWATER, "import", str(archive), "--no-etl"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            states = [json.loads(p.read_text()) for p in record.glob("*.json")] if record.is_dir() else []
            if states and 0 < states[0]["lines"] < count // 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the import ended before it could be killed: make the file bigger"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        while _live_group_members(proc.pid):  # its worker processes too
            time.sleep(0.01)
    # a write the kill cut (a large write can be cut by SIGKILL) leaves a torn last line: nothing of
    # it was recorded as done, and the next start cuts it (log/recovery.py), as the rerun checks below
    whole = [
        line for path in (data / "log").glob("events-*.jsonl") for line in path.read_bytes().splitlines(True)
    ]
    done_before = sum(1 for line in whole if line.endswith(b"\n"))
    assert 0 < done_before < count

    again = run_import(data, str(archive), "--no-etl")

    assert again.returncode == 0, again.stderr
    assert "(continued at line" in again.stdout
    logged = ids(data)
    assert len(logged) == count and len(set(logged)) == count  # read_log: no torn line left


def test_a_record_behind_the_log_writes_nothing_twice(tmp_path: Path) -> None:
    """The kill came after a chunk was fsynced and before its record was: the rerun redoes that
    chunk, finds its events stored and its rejections quarantined, and adds neither again."""
    data = tmp_path / "data"
    rows = [*history(50, DAY1), {"type": "track", "event": "x", "timestamp": "2024-03-04T10:00:00Z"}]
    path = write_ndjson(tmp_path / "h.ndjson", rows)
    assert summary(data, str(path), "--no-etl")["files"][0]["rejected"] == 1
    (record,) = (data / "run" / "imports").glob("*.json")
    state = json.loads(record.read_text())
    state.update(status="running", lines=0, offset=0)
    record.write_text(json.dumps(state))

    again = summary(data, str(path), "--no-etl")["files"][0]

    assert (again["imported"], again["duplicates"], again["resumed_at_line"]) == (0, 50, 0)
    assert len(read_log(data)) == 50 and len(read_log(data, "quarantine")) == 1


def test_help_and_usage_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "RudderStack" in cli(data, "import", "--help").stdout
    missing = run_import(data, str(tmp_path / "nope.gz"))
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr
    bad_map = run_import(data, str(tmp_path), "--map", "usrId=user")
    assert bad_map.returncode == 2 and "unknown field 'usrId'" in bad_map.stderr
    array = tmp_path / "array.json"
    array.write_text('[{"type": "track"}]\n')
    refused = run_import(data, str(array))
    assert refused.returncode == 1 and "jq -c" in refused.stderr
