"""The decision log's writer: real files, the real task and thread (no HTTP here, see test_http.py)."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from prometheus_client import REGISTRY

from headwater.decisions.record import Formatter
from headwater.decisions.writer import DecisionLog
from headwater.log.files import list_log_files
from tests.decisions.records import bid_request, consented, epoch_us, outcome_of, read_lines


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_decisions_go_to_the_file_of_their_utc_day(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, "w1")
    enriched, unknown = outcome_of(consented("r1")), outcome_of(bid_request("r2", user="never-seen"))
    log.note(enriched, 0.00004, at_us=epoch_us("2026-03-27T23:59:59.999999"))
    log.note(unknown, 0.00002, at_us=epoch_us("2026-03-28T00:00:00.000001"))
    log.write_all()
    files = list_log_files(tmp_path, "decisions")
    assert [(f.name, f.kind, f.writer) for f in files] == [
        ("decisions-20260327.w1.jsonl", "decisions", "w1"),
        ("decisions-20260328.w1.jsonl", "decisions", "w1"),
    ]
    (first,) = read_lines(files[0].path)
    (second,) = read_lines(files[1].path)
    assert first["timestamp"] == "2026-03-27T23:59:59.999999Z" and first["segments"] == "782,hw-loyal"
    assert second["request_id"] == "r2" and second["user_found"] is False and second["latency_us"] == 20
    assert list_log_files(tmp_path, "events") == []  # the event log does not see them


def test_the_task_writes_every_flush_interval_and_the_stop_writes_the_rest(tmp_path: Path) -> None:
    first, second = outcome_of(consented("r1")), outcome_of(consented("r2"))

    async def scenario() -> tuple[list[str], list[str], int]:
        log = DecisionLog(tmp_path, "w1", flush_seconds=0.05, format_seconds=0.01)
        await log.start()
        log.note(first, 0.0)
        for _ in range(300):
            if log.status()[1]["logged"]:
                break
            await asyncio.sleep(0.01)
        path = log.path_for(datetime.now(UTC).date())
        before_stop = [r["request_id"] for r in read_lines(path)]
        log.note(second, 0.0)
        await log.stop()  # at once: the stop writes what the task has not
        return before_stop, [r["request_id"] for r in read_lines(path)], log.status()[1]["logged"]

    before_stop, after_stop, logged = asyncio.run(scenario())
    assert (before_stop, after_stop, logged) == (["r1"], ["r1", "r2"], 2)


def test_a_torn_last_line_is_cut_when_the_writer_reopens_its_file(tmp_path: Path) -> None:
    at = epoch_us("2026-03-27T10:00:00")
    log = DecisionLog(tmp_path, "w1")
    log.note(outcome_of(consented("r1")), 0.0, at_us=at)
    log.write_all()
    path = log.path_for(date(2026, 3, 27))
    with open(path, "ab") as fh:  # the worker was killed in the middle of a write
        fh.write(b'{"id":"r2:w1:1","request_id":"r2","times')
    log = DecisionLog(tmp_path, "w1")  # the worker again, after its restart
    log.note(outcome_of(consented("r3")), 0.0, at_us=at + 1)
    log.write_all()
    assert [r["request_id"] for r in read_lines(path)] == ["r1", "r3"]


def test_a_full_buffer_drops_and_counts(tmp_path: Path) -> None:
    logged = counter("headwater_decisions_logged_total")
    dropped = counter("headwater_decisions_dropped_total")
    log = DecisionLog(tmp_path, "w1", max_buffered=5)
    outcome = outcome_of(consented("r1"))
    for i in range(8):  # nothing formats the buffer meanwhile
        log.note(outcome, 0.0, at_us=epoch_us("2026-03-27T10:00:00") + i)
    assert log.status()[1]["dropped"] == 3 and log.status()[1]["buffered"] == 5
    log.write_all()
    assert len(read_lines(log.path_for(date(2026, 3, 27)))) == 5
    assert counter("headwater_decisions_logged_total") == logged + 5
    assert counter("headwater_decisions_dropped_total") == dropped + 3


def test_a_failed_write_is_counted_and_the_log_keeps_going(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_bytes(b"")  # the log directory cannot be created: every write fails
    dropped = counter("headwater_decisions_dropped_total")
    outcomes = [outcome_of(consented(f"r{n}")) for n in range(2)]

    async def scenario() -> dict[str, object]:
        log = DecisionLog(blocked, "w1", flush_seconds=0.02, format_seconds=0.01)
        await log.start()
        try:
            for n in range(2):
                log.note(outcomes[n], 0.0)
                for _ in range(300):
                    if log.status()[1]["dropped"] > n:
                        break
                    await asyncio.sleep(0.01)
            return log.status()[1]
        finally:
            await log.stop()

    status = asyncio.run(scenario())
    assert status["dropped"] == 2 and status["logged"] == 0 and status["last_error"]  # the second too
    assert counter("headwater_decisions_dropped_total") == dropped + 2
    assert os.path.isfile(blocked)


def test_sampling_keeps_the_same_requests_every_time(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, "w1", sample=0.5)
    ids = [f"req-{i}" for i in range(2000)]
    at = epoch_us("2026-03-27T10:00:00")
    for round_ in range(2):
        for n, request_id in enumerate(ids):
            outcome = outcome_of(bid_request(request_id, user="never-seen"))
            log.note(outcome, 0.0, at_us=at + round_ * 10_000 + n)
    log.write_all()
    written = [r["request_id"] for r in read_lines(log.path_for(date(2026, 3, 27)))]
    once = set(written)
    assert 0.45 < len(once) / len(ids) < 0.55
    assert set(Counter(written).values()) == {2}  # both rounds kept or both left out


def test_a_batch_and_one_by_one_write_the_same_lines() -> None:
    """The column-wise formatting of a batch and the per-decision one (around midnight, for ids to
    escape) agree, field for field."""
    at = epoch_us("2026-03-27T10:00:00")
    requests = [
        consented("r1"),
        bid_request("r2", user="never-seen"),
        bid_request("r3", user="no-audience"),
        bid_request("r4", coppa=1, gdpr=0),
        bid_request("r5", user=None),
    ]
    pending = []
    for n, request in enumerate(requests * 3):
        outcome = outcome_of(request)
        pending.append(
            (at + n * 7, request["id"], outcome.reason, outcome.consent, outcome.segments, n / 1e5)
        )
    batch = Formatter("w1").lines(pending)
    single = {d: ("".join(Formatter("w1").line(p)[1] for p in pending).encode(), len(pending)) for d in batch}
    assert batch == single and len(batch) == 1
    quoted = [(at, 'a"b', *pending[0][2:]), (at, "tab\there", *pending[1][2:])]
    ((data, count),) = Formatter("w1").lines(quoted).values()
    assert count == 2
    assert [json.loads(line)["request_id"] for line in data.splitlines()] == ['a"b', "tab\there"]


def test_a_stop_in_the_middle_of_formatting_loses_nothing(tmp_path: Path) -> None:
    outcome = outcome_of(consented("r"))

    async def scenario() -> tuple[int, int]:
        log = DecisionLog(tmp_path, "w1", format_seconds=0.001)
        for _n in range(40_000):  # 157 chunks to format, a yield after each
            log.note(outcome, 0.0)
        await log.start()
        formatted = 0
        while formatted == 0:
            await asyncio.sleep(0)
            formatted = sum(count for _, count in log._lines.values())
        await log.stop()  # with most of the batch taken from the buffer but not formatted yet
        return formatted, int(log.status()[1]["logged"])

    formatted, logged = asyncio.run(scenario())
    assert 0 < formatted < 40_000 and logged == 40_000
    (path,) = [lf.path for lf in list_log_files(tmp_path, "decisions")]
    assert len(read_lines(path)) == 40_000
