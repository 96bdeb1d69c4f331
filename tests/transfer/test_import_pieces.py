"""The import's pieces that make it fast, against the plain ways they replace: the dedup run by run
against the event-by-event rule, a plain file cut by place where a stream is cut, and chunks that
travel through the workers' shared slots (or the pipe, when they do not fit) unchanged."""

from __future__ import annotations

import io
import random
import sys
from array import array
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

import headwater.transfer.import_pool as import_pool
import headwater.transfer.sources as sources
from headwater.events.normalize import Normalizer
from headwater.transfer.convert import Convert, Converted, convert_chunk
from headwater.transfer.importing import _by_day, _fresh
from headwater.transfer.known import KnownIds
from headwater.transfer.sources import InputReader, chunks
from tests.transfer.archives import history, lines

DAY1 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


class Known:
    """KnownIds' in-memory sets, as ``near`` gives them."""

    def __init__(self, stored: dict[str, set[str]]) -> None:
        self.sets = stored

    def near(self, day: str) -> tuple[set[str], set[str], set[str]]:
        d = date.fromisoformat(day)
        for n in (d - timedelta(days=1), d, d + timedelta(days=1)):
            self.sets.setdefault(n.isoformat(), set())
        before, after = (d - timedelta(days=1)).isoformat(), (d + timedelta(days=1)).isoformat()
        return self.sets[day], self.sets[before], self.sets[after]


def event_by_event(ids: list[str], dates: list[str], known: Known) -> tuple[list[int], set[str]]:
    """The rule as it was written first: each id in turn, against its date and the days beside it."""
    kept, written = [], set()
    for i, (mid, d) in enumerate(zip(ids, dates, strict=True)):
        same, before, after = known.near(d)
        if mid in same or mid in before or mid in after:
            continue
        same.add(mid)
        written.add(d)
        kept.append(i)
    return kept, written


def _nonempty(sets: dict[str, set[str]]) -> dict[str, set[str]]:
    return {d: s for d, s in sets.items() if s}


def runs_of(dates: list[str]) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for d in dates:
        if runs and runs[-1][0] == d:
            runs[-1] = (d, runs[-1][1] + 1)
        else:
            runs.append((d, 1))
    return runs


@pytest.mark.parametrize("seed", range(12))
def test_dedup_run_by_run_keeps_what_the_event_by_event_rule_keeps(seed: int) -> None:
    rng = random.Random(seed)
    days = [f"2024-03-{d:02d}" for d in range(1, 9)]
    pool = [f"m{n}" for n in range(rng.choice((50, 400, 5000)))]
    stored = {d: {rng.choice(pool) for _ in range(rng.randrange(0, 60))} for d in days}
    if seed % 3 == 0:  # a rerun: a whole run already stored on its date
        stored["2024-03-04"] |= set(pool[:300])
    for _ in range(3):  # chunks one after the other, the sets growing
        n = rng.randrange(1, 3000)
        start = rng.randrange(len(days))
        shifts = [i * 3 // n if seed % 2 == 0 else rng.randrange(3) for i in range(n)]  # sorted or not
        dates = [days[min(len(days) - 1, start + shift)] for shift in shifts]
        ids = [rng.choice(pool) if rng.random() < 0.3 else f"new-{seed}-{rng.random()}" for _ in range(n)]
        if seed % 3 == 0:
            k = min(n, 200, len(pool))
            ids[:k], dates[:k] = pool[:k], ["2024-03-04"] * k
        want_known = Known({d: set(s) for d, s in stored.items()})
        got_known = Known({d: set(s) for d, s in stored.items()})
        want, want_dates = event_by_event(ids, dates, want_known)
        got, got_dates = _fresh(ids, runs_of(dates), cast(KnownIds, got_known))
        assert (list(range(n)) if got is None else got) == want
        assert got_dates == want_dates
        assert _nonempty(got_known.sets) == _nonempty(want_known.sets)
        stored = got_known.sets


def test_lines_are_cut_by_received_day_in_their_order() -> None:
    texts = [b'{"n":%d}\n' % i for i in range(7)]
    blob = b"".join(texts)
    ends = array("q")
    for t in texts:
        ends.append((ends[-1] if ends else 0) + len(t))
    conv = Converted(ends=ends, days=[("2024-03-04", 3), ("2024-03-05", 2), ("2024-03-04", 2)])
    view = memoryview(blob)
    assert _by_day(view, conv, None) == {
        "2024-03-04": b"".join(texts[:3] + texts[5:]),
        "2024-03-05": b"".join(texts[3:5]),
    }
    assert _by_day(view, conv, [1, 4, 6]) == {"2024-03-04": texts[1] + texts[6], "2024-03-05": texts[4]}
    assert _by_day(view, conv, []) == {}


def _cuts(reader: InputReader, start: int, line: int, csv: bool, size: int) -> list[tuple[Any, ...]]:
    return [(c.first_line, c.lines, c.end_offset, c.size) for c in chunks(reader, start, line, csv, size)]


@pytest.mark.parametrize("csv", [False, True])
def test_a_plain_file_is_cut_where_a_stream_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv: bool
) -> None:
    monkeypatch.setattr(sources, "READ_BYTES", 997)  # small reads: many cuts, records across reads
    rng = random.Random(3)
    rows = []
    for i in range(900):
        width = rng.choice((5, 40, 300, 5000 if i % 97 == 0 else 60))  # some longer than a chunk
        cell = "x" * width
        rows.append(f'{i},"quoted\nnewline {cell}",end' if csv and i % 7 == 0 else f"{i},{cell},end")
    text = ("\n".join(rows) + ("" if csv else "\n")).encode()  # a CSV without its last newline
    plain = tmp_path / "rows.txt"
    plain.write_bytes(text)
    for start in (0, text.index(b"\n50,") + 1):  # from the start, and from a record further on (resumed)
        line = text[:start].count(b"\n") + 1
        # the same bytes from there on as standard input: read block by block, cut as they come
        stdin = io.BufferedReader(io.BytesIO(text[start:]))
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=stdin))
        streamed = InputReader.open(None)
        reader = InputReader.open(plain)
        assert reader.plain and not streamed.plain
        try:
            by_place = _cuts(reader, start, line, csv, 3000)
        finally:
            reader.close()
        assert by_place == [(a, b, start + end, d) for a, b, end, d in _cuts(streamed, 0, line, csv, 3000)]
        assert len(by_place) > 20
        assert sum(c[1] for c in by_place) == text[start:].count(b"\n") + (0 if text.endswith(b"\n") else 1)


def _conv() -> Convert:
    return Convert("json", "h.ndjson", "imp", "import", datetime.now(UTC), Normalizer(), 32768)


def test_chunks_travel_through_the_slots_and_through_the_pipe_when_too_big(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_pool, "SLOT_BYTES", 64 << 10)  # read by the workers forked below
    conv = _conv()
    small = lines(history(20, DAY1))  # ~14 KB in, ~19 KB out: both fit a slot
    big = lines(history(120, DAY1))  # ~85 KB in, more out: the pipe both ways
    plain = tmp_path / "h.ndjson"
    plain.write_bytes(small + b"not json\n")
    pool = import_pool.ImportPool(2)
    try:
        for data in (small, big, (str(plain), 0, plain.stat().st_size)):
            slot, pending = pool.convert(conv, data, 7)
            assert slot >= 0
            got = pending.get(60)
            want = convert_chunk(conv, data, 7)
            assert (got.slot >= 0) == (data is not big)
            with pool.lines(got) as view:
                assert bytes(view) == bytes(want.blob)
            pool.release(slot)
            assert got.ids == want.ids and got.dates == want.dates and got.days == want.days
            assert list(got.ends) == list(want.ends)
            assert [msgspec.json.decode(b)["line"] for b in got.bad] == want.bad_lines
        assert len(pool._free) == pool.ahead  # every slot back
    finally:
        pool.terminate()
