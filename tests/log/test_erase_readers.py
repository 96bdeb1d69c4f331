"""Every reader of the log skips erased lines (log/erase.py: blank, same length) silently: no event,
no reject, counted nowhere; and offsets and checkpoints stay exact around them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest

from headwater.batch.etl import run_daily
from headwater.dashboard.health import count_lines, quarantine_health
from headwater.lake.sql import connect, json_events_sql
from headwater.log.erase import erase_from_log
from headwater.log.record import LogRecord
from headwater.log.tailing.batch import TailBatch
from headwater.log.tailing.decode import decode_data, records_between
from headwater.log.tailing.tailer import Tailer
from headwater.log.tailing.turns import BatchTurns
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.ports import RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store
from headwater.transfer.export_scan import ScanJob, scan
from headwater.warehouse.hours import hour_ranges
from tests.log.erase_data import ALICE, DAYS, Log, build_log, event

DAY = DAYS[0]


class Recording:
    """The real realtime target, keeping the message id and position of every record applied."""

    def __init__(self, inner: RealtimeTarget) -> None:
        self.inner = inner
        self.applied: list[tuple[str, str, int]] = []

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.inner.load_checkpoint(name)

    def apply(self, batch: TailBatch[LogRecord], new_checkpoint: dict[str, int]) -> None:
        self.inner.apply(batch, new_checkpoint)
        for record, (file, offset) in zip(batch.records, batch.positions, strict=True):
            self.applied.append((record.messageId, file, offset))


@pytest.fixture
def store(tmp_path: Path) -> RealtimeStore:
    return open_realtime_store(f"sqlite:///{tmp_path / 'rt.sqlite3'}")


def events_lines(log: Log) -> list[tuple[str, int, str, str | None]]:
    """(file, offset, messageId, owner) of every events line."""
    out = []
    for path, lines in log.lines.items():
        if path.name.startswith("events"):
            offset = 0
            for line, owner in lines:
                out.append((path.name, offset, msgspec.json.decode(line)["messageId"], owner))
                offset += len(line) + 1
    return out


def check_applied(target: Recording, expected: list[tuple[str, int, str, str | None]]) -> None:
    """Each expected line applied exactly once, with its own position (file, offset)."""
    assert sorted(target.applied) == sorted((mid, f, o) for f, o, mid, _ in expected)


def run(tailer: Tailer[LogRecord]) -> None:
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=5)


def test_a_tailer_behind_skips_erased_lines_and_applies_every_other_once(
    tmp_path: Path, store: RealtimeStore
) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    target = Recording(RealtimeTarget(store))
    tailer = Tailer("realtime", log_dir, target, LogRecord, max_lines=40)
    for _ in range(3):
        tailer.step()
    checkpoint = store.load_checkpoint("realtime")
    assert 0 < sum(checkpoint.values()) < sum(p.stat().st_size for p in log_dir.glob("events-*"))
    report = erase_from_log(log_dir, ALICE)
    assert report.lines_erased
    run(tailer)
    lines = events_lines(log)
    behind = [x for x in lines if x[1] >= checkpoint.get(x[0], 0)]
    assert any(owner == "alice" for *_, owner in behind)  # some were still to read
    check_applied(target, [x for x in lines if x[3] != "alice" or x[1] < checkpoint.get(x[0], 0)])
    assert store.quarantined("realtime") == [] and tailer.status.rejected_lines == 0
    assert store.load_checkpoint("realtime") == {p.name: p.stat().st_size for p in log_dir.glob("events-*")}


def test_tailers_sharing_reads_skip_erased_lines(tmp_path: Path) -> None:
    """Tailers of one process hand each other batches (BatchTurns): the records of a batch with
    blank lines are numbered right in every part handed over."""
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    erase_from_log(log_dir, ALICE)
    turns = BatchTurns()
    stores = [open_realtime_store(f"sqlite:///{tmp_path / f'rt{i}.sqlite3'}") for i in range(2)]
    targets = [Recording(RealtimeTarget(s)) for s in stores]
    tailers = [
        Tailer(f"t{i}", log_dir, t, LogRecord, max_lines=30, turns=turns) for i, t in enumerate(targets)
    ]
    tailers[0].step()  # one ahead: the other takes the rest of its batches
    while sum(t.step() for t in tailers):
        pass
    assert turns.shared_reads > 0
    for target in targets:
        check_applied(target, [x for x in events_lines(log) if x[3] != "alice"])


def test_a_day_whose_rest_is_erased_does_not_hold_the_tailer(tmp_path: Path, store: RealtimeStore) -> None:
    """Batches of blank lines only still move the checkpoint: the next day's lines come."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    day1, day2 = log_dir / "events-20260301.w1.jsonl", log_dir / "events-20260302.w1.jsonl"
    first = [event(DAY, i, f"a{i}", user="carol") for i in range(5)]
    first += [event(DAY, 10 + i, f"x{i}", user=ALICE[0]) for i in range(30)]
    day1.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in first))
    second = [event(DAYS[1], i, f"b{i}", user="carol") for i in range(10)]
    day2.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in second))
    target = Recording(RealtimeTarget(store))
    tailer = Tailer("realtime", log_dir, target, LogRecord, max_lines=5)
    assert tailer.step() == 5
    assert erase_from_log(log_dir, ALICE).lines_erased == 30
    run(tailer)
    assert [mid for mid, _, _ in target.applied] == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(10)]
    assert store.load_checkpoint("realtime") == {
        day1.name: day1.stat().st_size,
        day2.name: day2.stat().st_size,
    }
    assert store.quarantined("realtime") == []


def test_decoding_skips_erased_lines_among_good_and_bad_ones() -> None:
    good = [msgspec.json.encode(event(DAY, i, f"m{i}", user="carol")) for i in range(3)]
    partly = b" " * 40 + good[0][40:]  # an erasure a kill cut short: starts with spaces
    data = [good[0], b" " * 300, b'{"type":"track", not json', good[1], partly, b"   ", good[2]]
    records, indexes, reasons = decode_data(data, LogRecord)
    assert [r.messageId for r in records] == ["m0", "m1", "m2"]
    assert indexes == [0, 3, 6] and [i for i, _ in reasons] == [2]
    assert decode_data([b" " * 10, b" " * 20], LogRecord) == ([], [], [])
    records, indexes, reasons = decode_data([b" " * 10, good[1]], LogRecord)
    assert ([r.messageId for r in records], indexes, reasons) == (["m1"], [1], [])


def test_records_between_leaves_erased_lines_out(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    erase_from_log(log_dir, ALICE)
    end = {p.name: p.stat().st_size for p in log_dir.glob("events-*")}
    mids = [
        r.messageId for batch in records_between(log_dir, {}, end, LogRecord, max_lines=25) for r in batch
    ]
    assert sorted(mids) == sorted(mid for _, _, mid, owner in events_lines(log) if owner != "alice")


def test_duckdb_reads_of_the_log_skip_erased_lines(tmp_path: Path) -> None:
    """DuckDB's newline-delimited read_json (the ETL, today's metrics, the export's and the
    warehouse's pending log) takes a line of spaces for no row, whatever its length."""
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    big = log_dir / "events-20260304.w1.jsonl"
    big.write_bytes(b" " * (3 << 20) + b"\n" + msgspec.json.encode(event(DAY, 1, "after-big")) + b"\n")
    erase_from_log(log_dir, ALICE)
    con = connect()
    try:
        paths = sorted(log_dir.glob("events-*"))
        rows = con.execute(f"SELECT message_id FROM ({json_events_sql(paths)})").fetchall()
    finally:
        con.close()
    expected = [mid for _, _, mid, owner in events_lines(log) if owner != "alice"]
    assert sorted(r[0] for r in rows) == sorted([*expected, "after-big"])


def test_the_daily_etl_loads_every_other_event_and_none_erased(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    erase_from_log(tmp_path / "log", ALICE)
    results = [run_daily(tmp_path, day, "UTC") for day in DAYS]
    expected = sorted(mid for _, _, mid, owner in events_lines(log) if owner != "alice")
    assert sum(r.rows_in for r in results) == len(expected)
    files = sorted(str(p) for p in (tmp_path / "lake" / "events").glob("date=*/*.parquet"))
    rows = duckdb.sql(f"SELECT message_id FROM read_parquet({files}) ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == expected


def test_an_export_counts_erased_lines_nowhere(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    erase_from_log(log_dir, ALICE)
    path = log_dir / "events-20260301.w1.jsonl"
    size = path.stat().st_size
    done = scan(
        ScanJob(str(path), 0, size, size, "2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "ndjson")
    )
    assert done.skipped == 0
    assert done.ids == [mid for f, _, mid, owner in events_lines(log) if f == path.name and owner != "alice"]


def test_the_quarantine_health_counts_no_erased_line(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    path = log_dir / "quarantine-20260303.w1.jsonl"
    last = [line for line, _ in log.lines[path]][-1]
    with open(path, "ab") as fh:  # alice's, last: erased below
        fh.write(
            msgspec.json.encode({"reason": "x", "code": "invalid", "event": {"userId": ALICE[0]}}) + b"\n"
        )
    erase_from_log(log_dir, ALICE)
    kept = sum(
        1
        for p, lines in log.lines.items()
        if p.name.startswith("quarantine")
        for _, o in lines
        if o != "alice"
    )
    today = datetime(2026, 3, 3, 12, tzinfo=UTC)
    health = quarantine_health(log_dir, today)
    assert health["events_total"] == kept
    assert health["last"]["reason"] == msgspec.json.decode(last)["reason"]  # not the erased last line
    assert health["last"]["received_at"] == msgspec.json.decode(last)["receivedAt"]
    # counted in small reads too (an erased line across two reads)
    data = path.read_bytes()
    assert count_lines(path, len(data))[0] == sum(1 for x in data.split(b"\n")[:-1] if not x.startswith(b" "))


def test_finding_an_hour_in_the_log_passes_over_erased_lines(tmp_path: Path) -> None:
    """The warehouse export's binary search over receivedAt: a long run of blank lines (no
    receivedAt) within the hour must not be taken for lines before it."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    path = log_dir / "events-20260301.w1.jsonl"
    lines = []
    for i in range(1080):  # three hours, a line every 10 s
        at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=10 * i)
        user = ALICE[0] if 400 <= i < 700 else "carol"
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines.append(msgspec.json.encode({"messageId": f"m{i}", "userId": user, "receivedAt": stamp}))
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    erase_from_log(log_dir, ALICE)
    ((found, start, end),) = list(hour_ranges(log_dir, datetime(2026, 3, 1, 1, tzinfo=UTC)))
    data = found.read_bytes()[start:end].split(b"\n")[:-1]
    mids = {msgspec.json.decode(x)["messageId"] for x in data if not x.startswith(b" ")}
    assert {f"m{i}" for i in range(360, 400)} | {f"m{i}" for i in range(700, 720)} <= mids
