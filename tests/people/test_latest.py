"""The latest events, read backwards from the end of each writer's newest files (never the whole
log), merged by receivedAt and checked against a sort by hand; filters; erased lines, a line still
being written and damaged lines skipped; following the log as it grows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater.log.erase import erase_from_log
from headwater.people.latest import Filters, Follower, latest
from headwater.people.person import resolve_person
from headwater.people.sources import Reading, Sources
from headwater.people.timeline import timeline
from headwater.people.unloaded import unloaded_events
from tests.batch.logdata import ev

START = datetime(2026, 5, 1, 22, tzinfo=UTC)
WRITERS = ("w1", "w2", "w3")


def _at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def events() -> list[tuple[str, dict[str, Any]]]:
    """(writer, event): three writers over two UTC days, each in its own receive order; users
    with quotes and unicode, numeric ids, every type."""
    out = []
    users: list[Any] = ["u1", "u2", 'q"ü☃', 42]
    for n in range(600):
        writer = WRITERS[n % 3]
        stamp = _at(n * 300 + (n % 3))  # two days: 22:00 on the 1st to 00:00 on the 3rd
        kind = ("track", "page", "identify")[n % 3 if n % 7 else 0]
        user = users[n % len(users)]
        e = ev(stamp, event=f"E{n % 5}", type=kind, mid=f"m{n:04d}")
        e["userId"] = user
        e["_hw"]["source"] = f"src-{n % 2}"
        out.append((writer, e))
    return out


EVENTS = events()
OLDER = ev("2026-04-30T12:00:00.000Z", user="old", event="Old")  # an older day's line, 20,000 times


def write(log_dir: Path, items: list[tuple[str, dict[str, Any]]], ascii_only: bool = False) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    for writer, e in items:
        day = e["receivedAt"][:10].replace("-", "")
        with open(log_dir / f"events-{day}.{writer}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(e, ensure_ascii=ascii_only, separators=(",", ":")) + "\n")


def by_hand(match: Any, limit: int, older: int = 0) -> list[str]:
    found = [e for _, e in EVENTS if match(e)] + [OLDER] * older * match(OLDER)
    found.sort(key=lambda e: (e["receivedAt"], e["messageId"]), reverse=True)
    return [e["messageId"] for e in found[:limit]]


@pytest.mark.parametrize("ascii_only", [False, True])
def test_latest_is_the_newest_received_whatever_the_filter(tmp_path: Path, ascii_only: bool) -> None:
    log = tmp_path / "log"
    write(log, EVENTS, ascii_only)
    line = json.dumps(OLDER, separators=(",", ":"))
    (log / "events-20260430.w1.jsonl").write_text((line + "\n") * 20_000)  # an older day: 5 MB
    total = sum(p.stat().st_size for p in log.iterdir())
    cases: list[tuple[Filters, Any]] = [
        (Filters(), lambda e: True),
        (Filters(user="u2"), lambda e: e["userId"] == "u2"),
        (Filters(user='q"ü☃'), lambda e: e["userId"] == 'q"ü☃'),
        (Filters(user="42"), lambda e: e["userId"] == 42),
        (Filters(type="identify"), lambda e: e["type"] == "identify"),
        (
            Filters(event="E3", source="src-1"),
            lambda e: e.get("event") == "E3" and e["_hw"]["source"] == "src-1",
        ),
        (Filters(event="page"), lambda e: e["type"] == "page"),
    ]
    for filters, match in cases:
        for limit in (1, 7, 1000):
            body = latest(log, limit, filters)
            assert [e["messageId"] for e in body["events"]] == by_hand(match, limit, 20_000), (filters, limit)
            assert body["complete"] is True
    few = latest(log, 5)
    assert few["scanned_bytes"] <= 3 * 65536 < total / 20  # the ends of the files, not the log
    assert [e["receivedAt"] for e in few["events"]] == sorted(
        (e["receivedAt"] for e in few["events"]), reverse=True
    )


def test_a_budget_of_bytes_says_when_it_ran_out(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(log, EVENTS)
    body = latest(log, 10, Filters(user="nobody"), scan_bytes=4096)
    assert body["events"] == [] and body["complete"] is False and body["scanned_bytes"] <= 3 * 4096


def test_erased_torn_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = data / "log"
    write(log, EVENTS)
    erase_from_log(log, ["u1"])
    newest = log / f"events-{EVENTS[-1][1]['receivedAt'][:10].replace('-', '')}.w1.jsonl"
    with open(newest, "ab") as fh:
        fh.write(b"this is not json\n")
        fh.write(b'{"type":"track","event":"Half","userId":"u2","messageId":"torn"')  # being written
    body = latest(log, 1000)
    shown = [e["messageId"] for e in body["events"]]
    assert shown == by_hand(lambda e: e["userId"] != "u1", 1000)
    assert latest(log, 10, Filters(user="u1"))["events"] == []
    with Reading(Sources(data, f"sqlite:///{data / 'realtime.sqlite3'}", migrate=True)) as reading:
        gone = resolve_person(reading, "u1")
        assert unloaded_events(reading, gone) == [] and timeline(reading, gone)["events"] == []
        kept = resolve_person(reading, "u2")
        assert len(timeline(reading, kept, 1000)["events"]) == 150


def test_following_gives_what_is_appended_in_the_order_received(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(log, EVENTS[:300])
    follower = Follower(log, Filters(type="track"))
    assert follower.poll() == []
    write(log, EVENTS[300:400])
    later = [e for _, e in EVENTS[300:400] if e["type"] == "track"]
    got = follower.poll()
    assert [e["messageId"] for e in got] == [
        e["messageId"] for e in sorted(later, key=lambda e: e["receivedAt"])
    ]
    path = log / "events-20260503.w9.jsonl"  # a new writer's file, its last line half written
    line = json.dumps(ev(_at(500_000), user="u1", mid="half"), separators=(",", ":"))
    path.write_text(line[:30])
    assert follower.poll() == []
    with open(path, "a") as fh:
        fh.write(line[30:] + "\n")
    assert [e["messageId"] for e in follower.poll()] == ["half"]
    assert follower.poll() == []
