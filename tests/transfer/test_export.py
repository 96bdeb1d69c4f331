"""`headwater export` and `GET /api/v1/export/events`: real data (the demo's traffic through the
collector, loaded by the ETL, plus today's log not loaded yet with a retry in it), through the real
CLI and a real server, read back with the csv module, gzip and pyarrow."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.batch.etl import run_daily
from headwater.transfer.export_scan import COLUMNS, ScanJob, read_job
from headwater.transfer.export_stream import ChunkPipe, ExportCancelled, PipeWriter
from tests.batch.logdata import ev, write_log
from tests.helpers import HEADWATER, Server, cli

TOKEN = "export-test-admin-token-0123456789abcdef"
ENV = {"HEADWATER_TIMEZONE": "UTC", "HEADWATER_ADMIN_TOKEN": TOKEN}
TODAY = datetime.now(UTC).date()
START, END = (TODAY - timedelta(days=14)).isoformat(), TODAY.isoformat()


def export(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cli(data, "export", *args, env=ENV, check=check)


def ndjson(data: Path, *args: str) -> list[dict[str, Any]]:
    out = export(data, "events", "--start", START, "--end", END, *args).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's 12 days (loaded), and today's log not loaded yet: new events and a retry of a
    message the lake holds already (exported once)."""
    data = tmp_path_factory.mktemp("export") / "data"
    cli(data, "demo", "--users", "40", "--days", "12", "--seed", "5", env=ENV)
    first = json.loads(next(iter(sorted((data / "log").glob("events-*.jsonl")))).read_text().splitlines()[0])
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # after the demo's
    retry = {**first, "receivedAt": now}
    fresh = [ev(now, user="late-user", event="Late Click", mid=f"late-{i}", received=now) for i in range(3)]
    write_log(data, [retry, *fresh], writer="late")
    return data


def test_events_as_collected_once_each_and_as_many_as_the_metrics_count(data: Path) -> None:
    events = ndjson(data)
    ids = Counter(e["messageId"] for e in events)
    assert ids.most_common(1)[0][1] == 1  # the retry in today's log is not exported again
    assert {"late-0", "late-1", "late-2"} <= set(ids)  # today's log, not in the lake yet
    assert not any("_hw" in e for e in events)
    # each message as the log holds it (its first received copy), without Headwater's annotations
    logged: dict[str, dict[str, Any]] = {}
    for path in sorted((data / "log").glob("events-*.jsonl")):
        for line in path.read_text().splitlines():
            message = json.loads(line)
            message.pop("_hw")
            seen = logged.get(message["messageId"])
            if seen is None or message["receivedAt"] < seen["receivedAt"]:
                logged[message["messageId"]] = message
    assert all(e == logged[e["messageId"]] for e in events)
    late = json.loads(
        cli(data, "metrics", "late_events", "--start", START, "--end", END, "--json", env=ENV).stdout
    )
    assert len(events) == late["events"]  # the lake and today's log, deduplicated: the metrics' count


def test_filters_by_event_and_by_person(data: Path) -> None:
    everything = ndjson(data)
    pages = ndjson(data, "--event", "page")
    assert pages and pages == [e for e in everything if e["type"] == "page"]
    edited = ndjson(data, "--event", "Document Edited")
    assert edited == [e for e in everything if e["type"] == "track" and e["event"] == "Document Edited"]
    user = next(e["userId"] for e in everything if e["type"] == "identify")
    anon = {e["anonymousId"] for e in everything if e.get("userId") == user and "anonymousId" in e}
    mine = ndjson(data, "--user", user)
    expected = [
        e
        for e in everything
        if e.get("userId") == user or ("userId" not in e and e.get("anonymousId") in anon)
    ]
    assert mine == expected and any("userId" not in e for e in mine)  # the anonymous history too
    assert ndjson(data, "--user", "nobody-at-all") == []


def test_every_format_reads_back(data: Path, tmp_path: Path) -> None:
    events = ndjson(data)
    export(data, "events", "--start", START, "--end", END, "-o", str(tmp_path / "e.ndjson.gz"))
    with gzip.open(tmp_path / "e.ndjson.gz", "rt") as fh:
        assert [json.loads(line) for line in fh] == events
    export(data, "events", "--start", START, "--end", END, "-o", str(tmp_path / "e.csv"))
    with open(tmp_path / "e.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(events)
    for row, e in zip(rows, events, strict=True):
        assert row["messageId"] == e["messageId"] and row["timestamp"] == e["timestamp"]
        assert json.loads(row["context"]) == e["context"]
        assert (json.loads(row["properties"]) if row["properties"] else None) == e.get("properties")
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = export(
        data, "events", "--start", START, "--end", END, "--format", "parquet", "-o", str(tmp_path / "x")
    )
    assert f"exported {len(events):,} events (parquet)" in out.stderr
    table = pq.read_table(tmp_path / "x")
    assert table.num_rows == len(events) and table.schema.field("timestamp").type == pa.timestamp("ms", "UTC")
    assert table.column("messageId").to_pylist() == [e["messageId"] for e in events]
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" for t in table.column("timestamp").to_pylist()]
    assert stamps == [e["timestamp"] for e in events]
    assert not list(tmp_path.glob(".*partial"))  # written under a temporary name, renamed when complete


def test_a_lake_without_raw_log_or_compacted_into_archives(data: Path, tmp_path: Path) -> None:
    events = ndjson(data)
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    for month in sorted({e["timestamp"][:7] for e in events if e["timestamp"][:10] < TODAY.isoformat()}):
        cli(copy, "etl", "archive", "--month", month, env=ENV)
    assert ndjson(copy) == events  # the kept copies found in the monthly archives (recv_day)
    for path in (copy / "log").glob("events-*demo*.jsonl"):
        path.unlink()  # what retention does to a loaded, archived day
    out = export(copy, "events", "--start", START, "--end", END)
    rebuilt = [json.loads(line) for line in out.stdout.splitlines()]
    assert "rebuilt from the lake" in out.stderr
    assert sorted(e["messageId"] for e in rebuilt) == sorted(e["messageId"] for e in events)
    originals = {e["messageId"]: e for e in events}
    kept = ("type", "userId", "anonymousId", "timestamp", "receivedAt", "properties", "traits", "context")
    for e in rebuilt:
        assert all(e.get(k) == originals[e["messageId"]].get(k) for k in kept)


def test_a_damaged_lake_file_is_one_line_and_exit_code_1(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    damaged = sorted((copy / "lake" / "events").glob("date=*/*.parquet"))[-2]
    damaged.write_bytes(damaged.read_bytes()[:2000])
    done = export(copy, "events", "--start", START, "--end", END, check=False)
    assert done.returncode == 1 and done.stderr.startswith("error: the export could not read the lake")
    assert damaged.name in done.stderr and "Traceback" not in done.stderr


def test_cli_and_http_give_the_same_bytes(data: Path, tmp_path: Path) -> None:
    export(data, "events", "--start", START, "--end", END, "-o", str(tmp_path / "e.csv"))
    with Server(data, env=ENV) as srv:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{srv.url}/api/v1/export/events"
        r = httpx.get(url, params={"start": START, "end": END}, headers=headers, timeout=60)
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
        assert r.headers["content-disposition"] == f'attachment; filename="events-{START}_{END}.ndjson"'
        assert "content-length" not in r.headers and r.headers["transfer-encoding"] == "chunked"
        assert r.content.decode() == export(data, "events", "--start", START, "--end", END).stdout
        r = httpx.get(url, params={"start": START, "end": END, "format": "csv"}, headers=headers, timeout=60)
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.content == (tmp_path / "e.csv").read_bytes()
        user = {"start": START, "end": END, "user": "late-user", "format": "parquet"}
        r = httpx.get(url, params=user, headers=headers, timeout=60)
        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(r.content)).column("messageId").to_pylist() == [
            "late-0",
            "late-1",
            "late-2",
        ]
        for params, code, name in [
            ({"start": "2026-02-30", "end": END}, "bad_date", "'start'"),
            ({"start": START}, "missing_parameter", "'end'"),
            ({"start": END, "end": START}, "start_after_end", "'start'"),
            ({"start": START, "end": END, "format": "xml"}, "bad_format", "'format'"),
            ({"start": START, "end": END, "tz": "Mars/Olympus"}, "unknown_timezone", "'tz'"),
            ({"start": "1900-01-01", "end": END}, "bad_date", "'start'"),
            ({"start": START, "end": END, "user": "x" * 3000}, "bad_parameter", "'user'"),
        ]:
            r = httpx.get(url, params=params, headers=headers, timeout=30)
            assert r.status_code == 400, r.text
            assert r.json()["error"]["code"] == code and name in r.json()["error"]["message"]
        assert httpx.get(url, params={"start": START, "end": END}, timeout=30).status_code == 401
        spec = httpx.get(f"{srv.url}/openapi.json", timeout=30).json()["paths"]["/api/v1/export/events"][
            "get"
        ]
        assert {p["name"] for p in spec["parameters"]} == {"start", "end", "tz", "format", "user", "event"}
        assert set(spec["responses"]["200"]["content"]) == {
            "application/x-ndjson",
            "text/csv",
            "application/vnd.apache.parquet",
        }


@pytest.mark.parametrize(
    "args",
    [
        ["events", "--start", "2026-13-01", "--end", "2026-12-01"],
        ["events", "--start", "2026-12-02", "--end", "2026-12-01"],
        ["events", "--start", "2026-12-01", "--end", "2026-12-01", "--format", "xml"],
        ["events", "--start", "2026-12-01", "--end", "2026-12-01", "--tz", "Nowhere/Land"],
        ["events", "--start", "2026-12-01", "--end", "2026-12-01", "-o", "/no/such/dir/x.ndjson"],
        ["metrics", "dauu", "--start", "2026-12-01", "--end", "2026-12-01"],
        ["metrics", "dau", "--start", "2026-12-01", "--end", "yesterday"],
        ["metrics", "dau", "--start", "2026-12-01", "--end", "2026-12-01", "--period", "week"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(data: Path, args: list[str]) -> None:
    done = export(data, *args, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_metrics_as_csv(data: Path, tmp_path: Path) -> None:
    out = export(data, "metrics", "dau", "--start", START, "--end", END).stdout
    answer = json.loads(cli(data, "metrics", "dau", "--start", START, "--end", END, "--json", env=ENV).stdout)
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = [  # a missing day's null value is an empty cell
        (r["date"], "" if r["value"] is None else str(r["value"]), str(r["missing"]).lower())
        for r in answer["rows"]
    ]
    assert [(r["date"], r["value"], r["missing"]) for r in rows] == expected
    export(
        data,
        "metrics",
        "retention",
        "--start",
        START,
        "--end",
        END,
        "--period",
        "week",
        "-o",
        str(tmp_path / "r.csv"),
    )
    with open(tmp_path / "r.csv", newline="") as fh:
        retention = list(csv.DictReader(fh))
    assert list(retention[0]) == ["date", "cohort_size", "period", "users", "rate", "incomplete"]
    assert {r["incomplete"] for r in retention} <= {"true", "false"}


def test_every_core_gives_the_same_bytes(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker processes (a big export) write what the exporting thread alone writes."""
    from headwater.lake.params import make_range
    from headwater.transfer import export_source
    from headwater.transfer.export import export_events
    from headwater.transfer.export_model import ExportRequest

    request = ExportRequest(make_range(START, END, None, "UTC"), "csv")
    alone, workers = io.BytesIO(), io.BytesIO()
    export_events(data, request, alone)
    monkeypatch.setattr(export_source, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(export_source, "SEGMENT_BYTES", 64 * 1024)  # many pieces, lines cut at their ends
    stats = export_events(data, request, workers)
    assert workers.getvalue() == alone.getvalue() and stats.events > 1000


def test_pieces_of_a_file_hold_each_complete_line_once(tmp_path: Path) -> None:
    lines = [b"x" * (i % 37) + b"%d" % i for i in range(500)]
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines) + b'{"torn')  # a line being written
    stop = path.stat().st_size
    start = sum(len(line) + 1 for line in lines[:7])
    for size in (1, 2, 5, 64, 1000, stop):
        got = []
        for at in range(start, stop, size):
            got += read_job(ScanJob(str(path), at, min(at + size, stop), stop, "", "", "ndjson"))
        assert got == lines[7:], size


def test_the_pipe_to_the_http_response_holds_a_few_chunks_then_waits() -> None:
    async def scenario() -> tuple[int, bool]:
        pipe = ChunkPipe(asyncio.get_running_loop(), max_chunks=3)
        writer = PipeWriter(pipe, chunk_bytes=10)
        written, cancelled = [0], [False]

        def produce() -> None:
            try:
                for _ in range(100):
                    writer.write(b"0123456789")
                    written[0] += 1
            except ExportCancelled:
                cancelled[0] = True

        thread = threading.Thread(target=produce)
        thread.start()
        await asyncio.sleep(0.5)
        held = written[0]  # three chunks in the pipe, the fourth write waits for room
        assert (await pipe.get()) == ("data", b"0123456789")
        await asyncio.sleep(0.3)
        assert written[0] == held + 1
        pipe.close()  # the client went away: the writer stops at its next wait
        await asyncio.to_thread(thread.join, 5)
        return held, cancelled[0]

    held, cancelled = asyncio.run(scenario())
    assert held == 3 and cancelled


def _ten_years(data: Path) -> int:
    """150,000 events over ten years: 10 received days, each the history of a year (the first day of
    each month: few partitions, so the ETL of the fixture stays quick)."""
    n = 0
    log = data / "log"
    log.mkdir(parents=True)
    for year in range(2016, 2026):
        recv = date(year, 12, 31)
        with open(log / f"events-{recv:%Y%m%d}.t.jsonl", "w") as fh:
            for i in range(15_000):
                day = date(year, 1 + i % 12, 1)
                ts = f"{day}T{i % 24:02d}:{i % 60:02d}:00.000Z"
                fh.write(
                    f'{{"type":"track","event":"E{i % 7}","userId":"u{i % 900}","messageId":"{year}-{i}",'
                    f'"timestamp":"{ts}","originalTimestamp":"{ts}","sentAt":"{ts}",'
                    f'"properties":{{"tool_id":"t{i % 5}","n":{i},"pad":"{"p" * 350}"}},'
                    f'"context":{{"ip":"10.0.0.0","library":{{"name":"analytics-python","version":"2.3"}}}},'
                    f'"receivedAt":"{recv}T12:00:00.000Z","_hw":{{"source":"t","event_type":"E{i % 7}",'
                    f'"tool_id":"t{i % 5}","bot":false}}}}\n'
                )
                n += 1
        run_daily(data, recv, "UTC")
    return n


# The command's own peak (VmHWM: this process image only; getrusage's maxrss would count the memory of
# the test process it was forked from), printed by the command's process as it ends.
_PROBE = """
import runpy, sys
sys.argv = ["headwater", *sys.argv[1:]]
try:
    runpy.run_module("headwater", run_name="__main__")
finally:
    peak = [r for r in open("/proc/self/status") if r.startswith("VmHWM:")][0].split()[1]
    print("peak-rss-kb", peak, file=sys.stderr)
"""


def _peak_rss_mb(data: Path, *args: str) -> tuple[float, str]:
    """Run `headwater export events ...`: its peak RSS (MB) and its stderr."""
    env = {**os.environ, **ENV, "HEADWATER_DATA_DIR": str(data)}
    done = subprocess.run(
        [HEADWATER[0], "-c", _PROBE, "export", "events", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.split("peak-rss-kb ")[1].split()[0]) / 1024, done.stderr


@pytest.mark.slow
def test_a_ten_year_range_streams_in_bounded_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    total = _ten_years(data)
    out = tmp_path / "all.ndjson"
    started = time.monotonic()
    big, stderr = _peak_rss_mb(data, "--start", "2016-01-01", "--end", "2025-12-31", "-o", str(out))
    seconds = time.monotonic() - started
    assert f"exported {total:,} events" in stderr and out.stat().st_size > 100 << 20
    small, _ = _peak_rss_mb(data, "--start", "2020-06-01", "--end", "2020-06-01", "-o", str(tmp_path / "day"))
    print(f"ten years: {total:,} events in {seconds:.1f} s, peak RSS {big:.0f} MB (one day: {small:.0f} MB)")
    assert big < 300 and big - small < 60  # the 100 MB written never sit in memory
