"""A person's timeline over a lake built by the real ETL (daily files, late events, a monthly
archive) and a log not loaded yet: every page equals the hand-sorted list of the person's events
(by timestamp, then messageId, newest first), each message once, whatever the page size, with
and without an event filter; the cursor goes back exactly where the last page stopped."""

from __future__ import annotations

import itertools
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.people.person import resolve_person
from headwater.people.sources import Reading, Sources
from headwater.people.timeline import CursorError, decode_cursor, encode_cursor, timeline
from tests.batch.logdata import ev, write_log

TZ = "Asia/Seoul"
DAY0 = date(2026, 1, 20)
PERSON_USER, PERSON_ANON, PERSON_OLD = "p-user", "p-anon", "p-old"
PERSON_EARLY = "p-early"  # active on the first two days alone: the newest files hold none of theirs


def _stamp(day: date, seconds: int) -> str:
    moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def history() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(loaded, not loaded): 24 days of the person (anonymous first, identified on day 3, an old
    user id aliased on day 10) among others, some events late by a day or two, two messages at
    the same millisecond, a resent duplicate; then a day of log the ETL has not seen."""
    rng = random.Random(7)
    loaded: list[dict[str, Any]] = []
    for d in range(24):
        day = DAY0 + timedelta(days=d)
        for n in range(rng.randrange(0, 9)):
            who: dict[str, Any] = {"anon": PERSON_ANON} if d < 3 else {"user": PERSON_USER}
            if 5 <= d < 10 and n % 2:
                who = {"user": PERSON_OLD}
            sent = day - timedelta(days=1 if n == 3 else 0)  # late: received the next day
            loaded.append(
                ev(
                    _stamp(sent, rng.randrange(86_400)),
                    event=f"E{n % 3}",
                    received=_stamp(day, 80_000),
                    **who,
                )
            )
        for other in ("o-1", "o-2", *([PERSON_EARLY] * 3 * (d < 2))):
            loaded.append(ev(_stamp(day, rng.randrange(86_400)), user=other, event="E0"))
    loaded.append(
        ev(_stamp(DAY0 + timedelta(days=3), 3600), type="identify", user=PERSON_USER, anon=PERSON_ANON)
    )
    loaded.append(
        ev(_stamp(DAY0 + timedelta(days=10), 60), type="alias", user=PERSON_USER, previous=PERSON_OLD)
    )
    same = _stamp(DAY0 + timedelta(days=12), 43_200)
    loaded += [ev(same, user=PERSON_USER, mid="tie-a"), ev(same, user=PERSON_USER, mid="tie-b")]
    loaded.append(dict(loaded[-1], receivedAt=_stamp(DAY0 + timedelta(days=13), 100)))  # resent copy
    today = DAY0 + timedelta(days=24)
    unloaded = [ev(_stamp(today, 1000 * k), user=PERSON_USER, event=f"E{k % 3}") for k in range(1, 9)]
    unloaded.append(dict(unloaded[0], receivedAt=_stamp(today, 50_000)))  # a duplicate in the log
    unloaded.append(dict(loaded[-3], receivedAt=_stamp(today, 60_000)))  # a lake message sent again
    unloaded.append(ev(_stamp(today, 70_000), anon=PERSON_ANON, user="someone-else"))  # not theirs
    return loaded, unloaded


LOADED, UNLOADED = history()  # made once: ev() numbers the message ids


def build(root: Path) -> Path:
    """The lake of these tests at ``root``: daily files, a monthly archive, a log not loaded yet."""
    for day in write_log(root, LOADED):
        run_daily(root, day, TZ)
    archive_month(root, 2026, 1)
    write_log(root, UNLOADED)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("timeline") / "data")


def expected(event: str | None = None, mine: frozenset[str] = frozenset()) -> list[str]:
    """The person's messages by hand: first copy of each message id, sorted newest first."""
    mine = mine or frozenset({PERSON_USER, PERSON_ANON, PERSON_OLD})
    first: dict[str, dict[str, Any]] = {}
    for e in LOADED + UNLOADED:
        actor = e.get("userId") or e.get("anonymousId")
        name = e.get("event") if e["type"] == "track" else e["type"]
        if actor in mine and e["messageId"] not in first and (event is None or name == event):
            first[e["messageId"]] = e
    ordered = sorted(first.values(), key=lambda e: (e["timestamp"], e["messageId"]), reverse=True)
    return [e["messageId"] for e in ordered]


def pages(data: Path, asked: str, limit: int, event: str | None = None) -> list[list[dict[str, Any]]]:
    out = []
    before = None
    with Reading(Sources(data, f"sqlite:///{data / 'realtime.sqlite3'}", migrate=True)) as reading:
        person = resolve_person(reading, asked)
        for _ in range(1000):
            body = timeline(reading, person, limit, before, event)
            out.append(body["events"])
            if body["next"] is None:
                return out
            before = decode_cursor(body["next"])
    raise AssertionError("the pages never end")


@pytest.mark.parametrize(("limit", "event"), [(1, None), (7, None), (1000, None), (3, "E1"), (50, "E2")])
def test_every_page_size_gives_the_hand_sorted_events_once(data: Path, limit: int, event: str | None) -> None:
    got = pages(data, PERSON_OLD, limit, event)
    assert all(len(page) == limit for page in got[:-1]) and len(got[-1]) <= limit
    ids = [e["messageId"] for e in itertools.chain.from_iterable(got)]
    assert ids == expected(event)


def test_events_come_from_the_lake_and_the_unloaded_log(data: Path) -> None:
    (page,) = pages(data, PERSON_ANON, 1000)
    stored = {e["messageId"]: e["stored"] for e in page}
    assert {stored[e["messageId"]] for e in UNLOADED[:8]} == {"log"}
    assert stored["tie-a"] == stored["tie-b"] == "lake"  # the resent copy of the log is not shown
    newest = page[0]
    assert newest["userId"] == PERSON_USER and newest["timestamp"].endswith("Z")
    assert isinstance(newest["properties"], dict) and isinstance(page[-1]["context"], dict)


def test_cursor_is_opaque_and_checked() -> None:
    key = (datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "m-'\"ü☃")
    assert decode_cursor(encode_cursor(key)) == key
    for bad in ("nope", "", "W10", encode_cursor(key)[:-3] + "***"):
        with pytest.raises(CursorError):
            decode_cursor(bad)


@pytest.mark.parametrize("without", ["person_days", "user_days"])
def test_a_lake_without_a_rollup_gives_the_same_pages(data: Path, tmp_path: Path, without: str) -> None:
    """Without the compact rollup every user-day file is read; without the user-day rollup (a lake
    loaded before it existed), every event file: slower, the same answer."""
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "lake" / without)
    got = pages(copy, PERSON_USER, 5)
    assert [e["messageId"] for e in itertools.chain.from_iterable(got)] == expected()
    assert pages(copy, "nobody", 5) == [[]]


@pytest.mark.parametrize(("first", "direct"), [(1, 1), (1, 3), (2, 24), (4, 4), (4, 24)])
@pytest.mark.parametrize("limit", [3, 1000])
def test_the_newest_files_read_directly_or_narrowed_give_the_same_pages(
    data: Path, monkeypatch: pytest.MonkeyPatch, first: int, direct: int, limit: int
) -> None:
    """A first page reads the newest user-day files as they come (LakePages.direct), as many as the
    rate of the person's rows says, and asks the compact rollup which received days hold their
    rows only when those hold none or would be too many: every way, the hand-sorted events."""
    import headwater.people.timeline as timeline_module

    asked: list[int] = []
    real = timeline_module.recvs_of
    monkeypatch.setattr(timeline_module, "FIRST_FILES", first)
    monkeypatch.setattr(timeline_module, "DIRECT_FILES", direct)
    monkeypatch.setattr(timeline_module, "recvs_of", lambda *a: asked.append(1) or real(*a))
    for who, mine in ((PERSON_USER, frozenset()), (PERSON_EARLY, frozenset({PERSON_EARLY}))):
        asked.clear()
        got = pages(data, who, limit)
        assert [e["messageId"] for e in itertools.chain.from_iterable(got)] == expected(mine=mine)
        if who == PERSON_EARLY:
            assert len(expected(mine=mine)) == 6 and asked  # the newest files hold none: narrowed
    with Reading(Sources(data, f"sqlite:///{data / 'realtime.sqlite3'}", migrate=True)) as reading:
        asked.clear()
        page = timeline(reading, resolve_person(reading, PERSON_USER), 3)
        assert len(page["events"]) == 3
        assert not asked  # an active person's first page: the newest files alone, no compact rollup
