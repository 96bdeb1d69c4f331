"""Tailers of one process share their reads (BatchTurns): whatever the order they step in and
however the log grows meanwhile, each tailer gets every line exactly once, in its file's order,
with the right position and record."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest

from headwater.log.record import LogRecord
from headwater.log.tailing.turns import BatchTurns


class Log:
    def __init__(self, root: Path, rng: random.Random) -> None:
        self.files = [root / "events-20261125.a.jsonl", root / "events-20261125.b.jsonl"]
        self.rng = rng
        self.ms = 0
        self.n = 0

    def append(self, count: int) -> None:
        for _ in range(count):
            self.ms += self.rng.randint(0, 3)  # equal receivedAt across files too
            received = (
                f"2026-11-25T10:{self.ms // 60000 % 60:02d}:{self.ms // 1000 % 60:02d}.{self.ms % 1000:03d}Z"
            )
            line = json.dumps({"type": "track", "messageId": f"m{self.n}", "receivedAt": received})
            if self.rng.random() < 0.02:
                line = '{"bad json ' + str(self.n)
            with open(self.rng.choice(self.files), "a") as fh:
                fh.write(line + "\n")
            self.n += 1

    def lines(self) -> list[bytes]:
        return sorted(ln for f in self.files if f.exists() for ln in f.read_bytes().split(b"\n") if ln)


@pytest.mark.parametrize("seed", range(40))
def test_every_tailer_gets_every_line_once_whatever_the_order(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    log = Log(tmp_path, rng)
    turns = BatchTurns()
    checkpoints: list[dict[str, int]] = [{}, {}, {}]
    seen: list[list[bytes]] = [[], [], []]

    def step(i: int, max_lines: int) -> int:
        batch, (records, indexes, rejects) = turns.take(tmp_path, checkpoints[i], max_lines, LogRecord)
        assert len(batch.data) <= max_lines
        assert len(records) + len(rejects) == len(batch.data)
        for record, index in zip(records, indexes, strict=True):
            assert json.loads(batch.data[index])["messageId"] == record.messageId
        assert all(batch.data[index].startswith(b'{"bad') for index, _ in rejects)
        for index, data in enumerate(batch.data):
            file, offset = batch.position(index)
            with open(tmp_path / file, "rb") as fh:
                fh.seek(offset)
                assert fh.readline().rstrip(b"\n") == data
        seen[i].extend(batch.data)
        checkpoints[i] = batch.checkpoint
        return len(batch.data)

    for _ in range(300):
        if rng.random() < 0.5:
            log.append(rng.randint(0, 40))
        step(rng.randrange(3), rng.choice([5, 10, 50]))
    for i in range(3):
        while step(i, 50):
            pass
    for i in range(3):
        assert sorted(seen[i]) == log.lines()
        for f in log.files:  # each file's lines in the file's order
            lines = [ln for ln in f.read_bytes().split(b"\n") if ln]
            of_file = set(lines)
            assert [ln for ln in seen[i] if ln in of_file] == lines
    assert turns.shared_reads > 0


def test_the_tailer_furthest_behind_goes_first_unless_it_is_far_behind() -> None:
    turns = BatchTurns()
    order: list[str] = []

    def take(name: str, position: int) -> None:
        with turns.take_turn(position):
            order.append(name)

    with turns.take_turn(0):  # hold the turn while three tailers queue up
        threads = []
        for name, position in (("ahead", 5_000), ("behind", 1_000), ("far", -turns.CATCH_UP_WINDOW)):
            t = threading.Thread(target=take, args=(name, position))
            t.start()
            threads.append(t)
            time.sleep(0.05)  # queued in this order
    for t in threads:
        t.join(5)
    # "ahead" queued first, but "behind" (within the window) goes before it; the far laggard
    # keeps its place in the queue, after both, and holds neither back
    assert order == ["behind", "ahead", "far"]
