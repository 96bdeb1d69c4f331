"""Erasing a person from the log in place (log/erase.py), on real files: every other byte unchanged,
sizes unchanged, nothing of the person left, beside a live writer, through a kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import msgspec
import pytest

from headwater.log import erase
from headwater.log.erase import erase_from_log, is_erased, person_lines
from headwater.log.erase_file import PAUSE_ENV
from headwater.log.erase_match import PAGE, Matcher
from headwater.log.writer import LogWriter
from tests.log.erase_data import ALICE, PEOPLE, Log, build_log, event, file_bytes

DAY = date(2026, 3, 1)


def check_erased(log_dir: Path, log: Log, before: dict[str, bytes], who: str) -> None:
    """Every line of ``who`` blank (its length and newline kept), every other one as it was."""
    after = file_bytes(log_dir)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    for path, lines in log.lines.items():
        now = after[path.name].split(b"\n")
        assert now.pop() == b""
        assert len(now) == len(lines)
        for (old, owner), new in zip(lines, now, strict=True):
            assert new == (b" " * len(old) if owner == who else old)
    for data in after.values():
        for ident in PEOPLE[who]:
            assert ident.encode() not in data


def test_one_person_is_erased_and_every_other_byte_is_unchanged(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    before = file_bytes(log_dir)
    seen: list[tuple[int, int]] = []
    report = erase_from_log(log_dir, ALICE, progress=lambda done, total: seen.append((done, total)))
    check_erased(log_dir, log, before, "alice")
    assert report.lines_erased == len(log.of("alice")) > 20
    assert report.files_changed == len(log.files_of("alice"))
    assert report.files_scanned == len(before) == 3 * 2 + 3
    assert report.bytes_scanned == sum(map(len, before.values()))
    assert seen[-1] == (report.bytes_scanned, report.bytes_scanned)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # bob is still there, all of him
    bob = person_lines(log_dir, PEOPLE["bob"], ("events", "quarantine"))
    assert sorted(line for _, line in bob) == sorted(log.of("bob"))
    # again: nothing left to do
    again = erase_from_log(log_dir, ALICE)
    assert (again.lines_erased, again.files_changed) == (0, 0)


def test_person_lines_are_the_lines_erase_erases(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir)
    events = list(person_lines(log_dir, ALICE))
    assert {name for name, _ in events} == {
        p.name for p in log.files_of("alice") if p.name.startswith("events")
    }
    assert sorted(line for _, line in events) == sorted(
        line for line in log.of("alice") if line.startswith(b'{"type"')
    )
    both = list(person_lines(log_dir, ALICE, ("events", "quarantine")))
    assert sorted(line for _, line in both) == sorted(log.of("alice"))
    assert erase_from_log(log_dir, ALICE).lines_erased == len(both)
    assert list(person_lines(log_dir, ALICE, ("events", "quarantine"))) == []


def test_worker_processes_erase_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no worker processes")
    log_dir = tmp_path / "log"
    log = build_log(log_dir, per_file=200)
    before = file_bytes(log_dir)
    shutil.copytree(log_dir, tmp_path / "copy")
    monkeypatch.setattr(erase, "PARALLEL_BYTES", 0)
    report = erase_from_log(log_dir, ALICE)
    check_erased(log_dir, log, before, "alice")
    monkeypatch.setattr(erase, "PARALLEL_BYTES", 1 << 60)
    alone = erase_from_log(tmp_path / "copy", ALICE)
    assert file_bytes(tmp_path / "copy") == file_bytes(log_dir)
    assert (report.lines_erased, report.files_changed, report.files_scanned, report.bytes_scanned) == (
        alone.lines_erased,
        alone.files_changed,
        alone.files_scanned,
        alone.bytes_scanned,
    )


def test_an_unknown_id_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    build_log(log_dir)
    old = time.time() - 3600
    for path in log_dir.iterdir():
        os.utime(path, (old, old))
    stamps = {p.name: p.stat().st_mtime_ns for p in log_dir.iterdir()}
    before = file_bytes(log_dir)
    report = erase_from_log(log_dir, ["nobody-42", "alice"])  # "alice" is only part of alice's ids
    assert (report.lines_erased, report.files_changed, report.files_scanned) == (0, 0, len(before))
    assert {p.name: p.stat().st_mtime_ns for p in log_dir.iterdir()} == stamps
    assert file_bytes(log_dir) == before


def test_junk_ids_are_no_one_and_erase_nothing(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    path = log_dir / "events-20260301.w1.jsonl"
    log_dir.mkdir()
    lines = [json.dumps(event(DAY, i, f"m{i}", user=u)) for i, u in enumerate(["0", 0, "null", "", "u"])]
    path.write_text("\n".join(lines) + "\n")
    report = erase_from_log(log_dir, ["0", "null", "", " Undefined "])
    assert (report.lines_erased, report.files_scanned) == (0, 0)
    assert path.read_text().splitlines() == lines


def test_a_live_writer_keeps_appending_while_a_person_is_erased(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer appends (O_APPEND, fsync) to the very file being erased: nothing it appends is
    lost or damaged, and the person's lines written before are blank."""
    log_dir = tmp_path / "log"
    monkeypatch.setenv(PAUSE_ENV, "0.003")  # ~0.5 s of erasing, appends all along
    users = [ALICE[0] if i % 3 == 0 else f"carol-{i}" for i in range(450)]
    before = [msgspec.json.encode(event(DAY, i, f"p{i}", user=u)) for i, u in enumerate(users)]

    async def main() -> tuple[list[bytes], int]:
        writer = LogWriter(log_dir, "events", "w1", fsync="always")
        writer.start()
        await writer.append(DAY, b"".join(line + b"\n" for line in before))
        erasing = asyncio.create_task(asyncio.to_thread(erase_from_log, log_dir, ALICE))
        appended: list[bytes] = []
        while not erasing.done():
            n = len(appended)
            batch = [msgspec.json.encode(event(DAY, 100, f"live-{n + k}", user="dave")) for k in range(3)]
            await writer.append(DAY, b"".join(line + b"\n" for line in batch))
            appended += batch
            await asyncio.sleep(0.001)
        report = await erasing
        await writer.close()
        return appended, report.lines_erased

    appended, erased = asyncio.run(main())
    assert erased == 150 and len(appended) > 60
    lines = (log_dir / "events-20260301.w1.jsonl").read_bytes().split(b"\n")
    assert lines.pop() == b""
    assert lines[: len(before)] == [b" " * len(b) if i % 3 == 0 else b for i, b in enumerate(before)]
    assert lines[len(before) :] == appended


ERASE_SCRIPT = """
import sys
from pathlib import Path
from headwater.log.erase import erase_from_log
print(erase_from_log(Path(sys.argv[1]), sys.argv[2:]).lines_erased)
"""


def test_a_kill_in_the_middle_leaves_lines_whole_or_blank_and_a_second_run_finishes(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = build_log(log_dir, per_file=300)
    shutil.copytree(log_dir, tmp_path / "whole")
    expected = erase_from_log(tmp_path / "whole", ALICE)
    before = file_bytes(log_dir)
    proc = subprocess.Popen(
        [sys.executable, "-c", ERASE_SCRIPT, str(log_dir), *ALICE],
        env={**os.environ, PAUSE_ENV: "0.01"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until it is well under way
        if sum(data.count(b"\n ") for data in file_bytes(log_dir).values()) >= 20:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    middle = file_bytes(log_dir)
    done = 0
    for path, lines in log.lines.items():
        now = middle[path.name].split(b"\n")[:-1]
        for (old, _), new in zip(lines, now, strict=True):
            assert new in (old, b" " * len(old))
            done += new != old
    assert 20 <= done < expected.lines_erased
    report = erase_from_log(log_dir, ALICE)
    assert report.lines_erased == expected.lines_erased - done
    assert file_bytes(log_dir) == file_bytes(tmp_path / "whole")
    check_erased(log_dir, log, before, "alice")


def test_a_line_blanked_only_in_part_is_finished_by_any_later_run(tmp_path: Path) -> None:
    """A kill can cut a write between two pages: the line starts with spaces (readers skip it) but
    keeps its end. The next erasure, of anyone, blanks the rest."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    path = log_dir / "events-20260301.w1.jsonl"
    lines = [msgspec.json.encode(event(DAY, i, f"m{i}", user=f"carol-{i}")) for i in range(40)]
    data = b"".join(line + b"\n" for line in lines)
    index = next(i for i in range(40) if sum(len(x) + 1 for x in lines[: i + 1]) > PAGE)  # spans the page
    start = sum(len(x) + 1 for x in lines[:index])
    cut = bytearray(data)
    cut[start:PAGE] = b" " * (PAGE - start)
    path.write_bytes(bytes(cut))
    assert is_erased(bytes(cut[start : start + len(lines[index])]))
    report = erase_from_log(log_dir, ["nobody"])
    assert (report.lines_erased, report.files_changed) == (1, 1)
    assert path.read_bytes() == b"".join(
        (b" " * len(x) if i == index else x) + b"\n" for i, x in enumerate(lines)
    )


def test_ids_with_quotes_backslashes_unicode_and_slashes_in_any_writer_s_form(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    ids = ['q"uo\\te', "zoë", "東京-7", "emoji-😀", "a/b"]
    others = ["zoe", "東京-77", "q", "a", "emoji-😀x"]  # no [A-Za-z0-9_-] after an id: another id
    rows = [event(DAY, i, f"m{i}", user=u) for i, u in enumerate(ids + others)]
    text = [
        *[msgspec.json.encode(r) for r in rows],  # raw UTF-8 (the collector)
        *[json.dumps(r).encode() for r in rows],  # \\uxxxx, ", " and ": " (Python's json)
        *[json.dumps(r).replace("\\u00eb", "\\u00EB").encode() for r in rows[1:2]],  # upper-case hex
        *[json.dumps(r).replace("/", "\\/").encode() for r in rows[4:5]],  # "\/" (PHP)
    ]
    path = log_dir / "events-20260301.w1.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in text))
    quarantine = log_dir / "quarantine-20260301.w1.jsonl"
    bodies = [json.dumps({"reason": "x", "body": json.dumps({"userId": u})}).encode() for u in ids + others]
    quarantine.write_bytes(b"".join(line + b"\n" for line in bodies))
    found = sorted(line for _, line in person_lines(log_dir, ids, ("events", "quarantine")))
    report = erase_from_log(log_dir, ids)
    assert report.lines_erased == len(found) == 5 + 5 + 1 + 1 + 5
    after = path.read_bytes().split(b"\n")[:-1]
    mine = [json.loads(line).get("userId") in ids for line in text]
    assert [is_erased(line) for line in after] == mine
    assert [line for line, m in zip(after, mine, strict=True) if not m] == [
        line for line, m in zip(text, mine, strict=True) if not m
    ]
    assert [is_erased(line) for line in quarantine.read_bytes().split(b"\n")[:-1]] == [True] * 5 + [False] * 5


def test_a_numeric_user_id_is_compared_as_its_json_text(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    users = [12345, "12345", 123456, 12345.5, "x12345", -12345, "12345 "]
    lines = [json.dumps(event(DAY, i, f"m{i}", user=u)) for i, u in enumerate(users)]
    path = log_dir / "events-20260301.w1.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert erase_from_log(log_dir, ["12345"]).lines_erased == 2
    assert [line.strip() == "" for line in path.read_text().splitlines()] == [True, True] + [False] * 5


def test_quarantine_matches_whole_tokens_only(tmp_path: Path) -> None:
    """An id that is the prefix of another id never takes the other's lines."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    path = log_dir / "quarantine-20260301.w1.jsonl"
    cases = {
        '{"reason":"x","event":{"userId":"u1"}}': True,
        '{"reason":"x","event":{"userId":"u12"}}': False,
        '{"reason":"x","event":{"userId":"u1_b"}}': False,
        '{"reason":"x","event":{"userId":"xu1"}}': False,
        '{"reason":"x","body":"{\\"anonymousId\\":\\"u1\\",\\"x\\":1}"}': True,
        '{"reason":"x","body":"{\\"anonymousId\\":\\"u1-2\\"': False,
        '{"reason":"torn line","fragment":"{\\"userId\\":\\"u1': True,
        '{"reason":"x","event":{"properties":{"email":"u1@example.com"}}}': True,  # quotes the id: erased too
    }
    path.write_text("".join(line + "\n" for line in cases))
    assert erase_from_log(log_dir, ["u1"]).lines_erased == sum(cases.values())
    assert [is_erased(line) for line in path.read_bytes().split(b"\n")[:-1]] == list(cases.values())


def test_an_id_with_forms_not_searched_is_found_by_parsing_every_line(tmp_path: Path) -> None:
    """``<``, ``&`` (escaped by Go's encoder) and control characters can be written in forms not
    searched for: every line is then parsed (events) or its escapes decoded (quarantine)."""
    ident = "a<b&c\tdé"
    assert Matcher([ident]).scan_all and not Matcher(["a-b"]).scan_all
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    go = json.dumps(ident).replace("<", "\\u003c").replace("&", "\\u0026").replace("\\t", "\\u0009")[1:-1]
    mixed = go.replace("\\u00e9", "é")  # another writer: raw UTF-8, escapes for the rest
    lines = [
        f'{{"type":"track","messageId":"m1","userId":"{go}"}}',
        f'{{"type":"track","messageId":"m2","anonymousId":"{mixed}"}}',
        '{"type":"track","messageId":"m3","userId":"a<b&c"}',
        f'{{"type":"alias","messageId":"m4","userId":"z","previousId":{json.dumps(ident)}}}',
    ]
    path = log_dir / "events-20260301.w1.jsonl"
    path.write_text("\n".join(lines) + "\n")
    quarantine = log_dir / "quarantine-20260301.w1.jsonl"
    q = [
        json.dumps({"reason": "x", "body": '{"userId":"' + go + '"}'}),
        json.dumps({"reason": "x", "body": '{"userId":"a<b&c"}'}),
    ]
    quarantine.write_text("\n".join(q) + "\n")
    assert erase_from_log(log_dir, [ident]).lines_erased == 4
    assert [is_erased(x) for x in path.read_bytes().split(b"\n")[:-1]] == [True, True, False, True]
    assert [is_erased(x) for x in quarantine.read_bytes().split(b"\n")[:-1]] == [True, False]


def test_a_torn_last_line_is_left_alone_and_the_kinds_are_checked(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    path = log_dir / "events-20260301.w1.jsonl"
    whole = msgspec.json.encode(event(DAY, 1, "m1", user=ALICE[0]))
    torn = msgspec.json.encode(event(DAY, 2, "m2", user=ALICE[0]))[:-20]  # being written
    path.write_bytes(whole + b"\n" + torn)
    assert erase_from_log(log_dir, ALICE).lines_erased == 1
    assert path.read_bytes() == b" " * len(whole) + b"\n" + torn
    with pytest.raises(ValueError, match="not a kind"):
        erase_from_log(log_dir, ALICE, kinds=("event",))
