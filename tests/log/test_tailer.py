"""The generic tailer over real log files and a real (SQLite) realtime store."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.log.merged_read import read_merged, received_of
from headwater.log.tailing.batch import TailBatch
from headwater.log.tailing.decode import decode_data
from headwater.log.tailing.tailer import Tailer
from headwater.log.tailing.turns import BatchTurns
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.ports import RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store
from tests.realtime.logdata import T0, append, event, log_file, minutes


@pytest.fixture
def store(tmp_path: Path) -> RealtimeStore:
    return open_realtime_store(f"sqlite:///{tmp_path / 'rt.sqlite3'}")


def run(tailer: Tailer[LoggedEvent]) -> None:
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=20)


def test_bad_json_line_is_quarantined_with_its_position_and_tailing_goes_on(
    tmp_path: Path, store: RealtimeStore
) -> None:
    path = log_file(tmp_path / "log")
    append(path, event("u1"))
    bad_offset = path.stat().st_size
    append(path, '{"type":"track", this is not json', "[1,2]", event("u2"), event("u3"))
    tailer = Tailer("realtime", tmp_path / "log", RealtimeTarget(store), LoggedEvent)
    run(tailer)
    assert store.daily(T0.date()).events == 3
    rejects = store.quarantined("realtime")
    assert (rejects[0].file, rejects[0].offset) == (path.name, bad_offset)
    assert rejects[0].reason.startswith("not valid JSON") and "this is not json" in rejects[0].fragment
    assert rejects[1].reason.startswith("unexpected shape")
    assert store.load_checkpoint("realtime") == {path.name: path.stat().st_size}


def test_a_partial_last_line_waits_until_complete(tmp_path: Path, store: RealtimeStore) -> None:
    path = log_file(tmp_path / "log")
    append(path, event("u1"))
    with open(path, "a") as fh:
        fh.write('{"type":"track","userId":"u2"')
    tailer = Tailer("realtime", tmp_path / "log", RealtimeTarget(store), LoggedEvent)
    run(tailer)
    assert store.daily(T0.date()).events == 1
    assert store.quarantined("realtime") == []
    with open(path, "a") as fh:
        fh.write(',"timestamp":"2026-11-25T09:00:00.000Z","_hw":{"event_type":"X"}}\n')
    run(tailer)
    assert store.daily(T0.date()).events == 2


class CommitThenFail:
    """The real target, but the connection 'drops' after the commit of some batches."""

    def __init__(self, inner: RealtimeTarget, fail_every: int) -> None:
        self.inner = inner
        self.fail_every = fail_every
        self.calls = 0
        self.failures = 0

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.inner.load_checkpoint(name)

    def apply(self, batch: TailBatch[LoggedEvent], new_checkpoint: dict[str, int]) -> None:
        self.inner.apply(batch, new_checkpoint)
        self.calls += 1
        if self.calls % self.fail_every == 0:
            self.failures += 1
            raise ConnectionError("connection lost after commit")


def test_exactly_once_when_the_outcome_of_a_commit_is_unknown(tmp_path: Path, store: RealtimeStore) -> None:
    path = log_file(tmp_path / "log")
    append(path, *[event(f"u{i % 7}", at=T0 + timedelta(seconds=i)) for i in range(500)])
    target = CommitThenFail(RealtimeTarget(store), fail_every=3)
    tailer = Tailer("realtime", tmp_path / "log", target, LoggedEvent, max_lines=37)
    run(tailer)
    assert target.failures >= 3
    assert store.daily(T0.date()).events == 500
    assert store.daily(T0.date()).unique_users == 7
    assert sum(s.count for s in store.sessions(limit=1000)[1]) == 500


def test_writers_are_read_merged_in_received_order(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    a, b = log_file(log_dir, "a"), log_file(log_dir, "b")
    for i in range(0, 40, 2):
        append(a, event("u", at=T0 + timedelta(seconds=i)))
        append(b, event("u", at=T0 + timedelta(seconds=i + 1)))
    order: list[bytes] = []
    checkpoint: dict[str, int] = {}
    while True:
        merged = read_merged(log_dir, checkpoint, max_lines=6)
        if not merged.lines:
            break
        order.extend(ln.received for ln in merged.lines)
        checkpoint = merged.checkpoint
    assert len(order) == 40
    assert order == sorted(order)
    assert checkpoint == {a.name: a.stat().st_size, b.name: b.stat().st_size}


def test_lag_is_reported_in_events_bytes_and_seconds(tmp_path: Path, store: RealtimeStore) -> None:
    path = log_file(tmp_path / "log", day=datetime.now(UTC))
    old = datetime.now(UTC) - minutes(10)
    append(path, *[event("u", at=old, received=old) for _ in range(300)])
    tailer = Tailer("realtime", tmp_path / "log", RealtimeTarget(store), LoggedEvent, max_lines=100)
    assert tailer.step() == 100
    st = tailer.status
    assert 590 <= st.lag_seconds <= 660
    assert st.lag_bytes == path.stat().st_size * 2 // 3
    assert st.lag_events == 200
    run(tailer)
    assert (tailer.status.lag_bytes, tailer.status.lag_events, tailer.status.lag_seconds) == (0, 0, 0.0)


def test_merged_lines_keep_their_file_and_offset_through_the_sort(tmp_path: Path) -> None:
    """Lines come out sorted by (receivedAt, file, offset), each with its own position, also when a
    writer's own lines are out of receivedAt order; a bad line in the second file is found where it is."""
    log_dir = tmp_path / "log"
    a, b = log_file(log_dir, "a"), log_file(log_dir, "b")
    at = [T0 + timedelta(seconds=s) for s in (0, 5, 3, 8)]
    append(a, *[event(f"a{i}", at=t) for i, t in enumerate(at)])
    append(b, event("b0", at=T0 + timedelta(seconds=3)))
    bad_offset = b.stat().st_size
    append(b, '{"type":"track", not json', event("b2", at=T0 + timedelta(seconds=1)))
    merged = read_merged(log_dir, {})
    expected: list[tuple[bytes, str, int, bytes]] = []
    for path in (a, b):
        offset = 0
        for raw in path.read_bytes().splitlines():
            expected.append((received_of(raw), path.name, offset, raw))
            offset += len(raw) + 1
    expected.sort(key=lambda e: e[:3])
    assert [(ln.received, ln.file, ln.offset, ln.data) for ln in merged.lines] == expected
    assert merged.data == [e[3] for e in expected]
    assert list(merged.positions()) == [(e[1], e[2]) for e in expected]
    assert merged.first_received == expected[0][0]
    assert merged.checkpoint == {a.name: a.stat().st_size, b.name: b.stat().st_size}
    records, _, reasons = decode_data(merged.data, LoggedEvent)
    assert len(records) == 6 and [merged.position(i) for i, _ in reasons] == [(b.name, bad_offset)]


def test_reads_sized_on_small_lines_still_take_whole_batches_of_big_lines(tmp_path: Path) -> None:
    """Reads are sized on the recent line size: after small lines, big ones still come in full batches."""
    log_dir = tmp_path / "log"
    path = log_file(log_dir)
    append(path, *[event(f"u{i}") for i in range(300)])
    big = [event(f"v{i}", properties={"blob": "x" * 20_000}) for i in range(300)]
    append(path, *big)
    checkpoint: dict[str, int] = {}
    sizes: list[int] = []
    while True:
        merged = read_merged(log_dir, checkpoint, max_lines=150)
        if not merged.data:
            break
        sizes.append(len(merged.data))
        checkpoint = merged.checkpoint
    assert sizes == [150] * 4
    assert checkpoint == {path.name: path.stat().st_size}


def test_batch_turns_are_exclusive_and_first_come_first_served() -> None:
    turns = BatchTurns()
    order: list[str] = []
    inside = 0
    most = 0
    guard = threading.Lock()

    def take(name: str, times: int) -> None:
        nonlocal inside, most
        for _ in range(times):
            with turns.take_turn():
                with guard:
                    inside += 1
                    most = max(most, inside)
                order.append(name)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=take, args=(n, 30)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1 and sorted(order) == sorted("abc" * 30)

    # a thread that asks again right after its turn queues behind the one already waiting
    waiting = threading.Event()
    got: list[str] = []
    with turns.take_turn():

        def other() -> None:
            waiting.set()
            with turns.take_turn():
                got.append("other")

        t = threading.Thread(target=other)
        t.start()
        waiting.wait()
        time.sleep(0.05)  # `other` is queued now
    with turns.take_turn():
        got.append("again")
    t.join()
    assert got == ["other", "again"]


def test_tailers_in_step_share_their_reads_and_each_counts_every_event_once(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    path = log_file(log_dir)
    append(path, *[event(f"u{i}") for i in range(250)])
    turns = BatchTurns()
    stores = [open_realtime_store(f"sqlite:///{tmp_path / f'rt{i}.sqlite3'}") for i in range(3)]
    tailers = [
        Tailer(f"t{i}", log_dir, RealtimeTarget(s), LoggedEvent, max_lines=100, turns=turns)
        for i, s in enumerate(stores)
    ]
    # in step: the first tailer reads each batch, the two others are handed it
    for _ in range(3):
        assert [t.step() for t in tailers] in ([100, 100, 100], [50, 50, 50])
    assert turns.shared_reads == 6
    assert turns.shared_decodes == 6  # one record type for all: each line decoded once
    assert [t.step() for t in tailers] == [0, 0, 0]  # caught up: an empty read is never shared
    assert turns.shared_reads == 6
    for s in stores:
        assert s.daily(T0.date()).events == 250
        assert s.load_checkpoint(tailers[stores.index(s)].name) == {path.name: path.stat().st_size}


def test_a_tailer_behind_reads_on_its_own_and_the_others_still_share(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    path = log_file(log_dir)
    turns = BatchTurns()
    stores = [open_realtime_store(f"sqlite:///{tmp_path / f'rt{i}.sqlite3'}") for i in range(3)]
    failing = CommitThenFail(RealtimeTarget(stores[0]), fail_every=3)  # commits, then "drops"
    targets = [failing, RealtimeTarget(stores[1]), RealtimeTarget(stores[2])]
    tailers = [
        Tailer(f"t{i}", log_dir, target, LoggedEvent, max_lines=50, turns=turns)  # type: ignore[arg-type]
        for i, target in enumerate(targets)
    ]
    stop = threading.Event()
    threads = [
        threading.Thread(target=t.run, args=(stop,), kwargs={"idle": 0.01, "max_backoff": 0.02})
        for t in tailers
    ]
    for th in threads:
        th.start()
    try:
        for chunk in range(20):  # written while the tailers run
            append(path, *[event(f"u{chunk}-{i}") for i in range(60)])
            time.sleep(0.01)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(s.daily(T0.date()).events == 1200 for s in stores):
                break
            time.sleep(0.05)
    finally:
        stop.set()
        for th in threads:
            th.join(10)
    assert failing.failures > 0
    assert [s.daily(T0.date()).events for s in stores] == [1200, 1200, 1200]
    assert turns.shared_reads > 0
