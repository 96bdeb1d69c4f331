"""A timeline page finds its rows by (file, row number), then reads those rows (people/timeline.py):
a file rewritten in between (a deletion's rewrite moves every later row) must never show another
row, another person's above all. The pages, read while every event file is rewritten in turn with
its rows in another order, are the hand-sorted events each time; without the check of the
second read's messages, some are not."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from headwater.lake.swapped import read_again
from headwater.people import timeline as timeline_module
from headwater.people.person import resolve_person
from headwater.people.sources import Reading, Sources
from headwater.people.timeline import decode_cursor, timeline
from tests.lake.test_swapped import Swapper
from tests.people.test_timeline import PERSON_OLD, build, expected


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("rewritten") / "data")


def _reverser(lake: Path) -> Swapper:
    """Rewrites every event file (daily files and the archive) in turn with its rows reversed."""
    files = sorted(
        p
        for p in lake.rglob("*.parquet")
        if not p.name.startswith(".") and p.parent.parent.name in ("events", "archive")
    )
    return Swapper(lake, files, lambda table: table.take(list(range(table.num_rows - 1, -1, -1))), 0.01)


def _all_pages(root: Path) -> list[str]:
    """Every page of PERSON_OLD's timeline, 20 events a page, each as the API reads one: its own
    view of the lake, run again after a read of a file swapped under it (lake/swapped.py)."""
    ids: list[str] = []
    before = None
    sources = Sources(root, f"sqlite:///{root / 'realtime.sqlite3'}", migrate=True)

    def page() -> dict[str, Any]:
        with Reading(sources) as reading:
            return timeline(reading, resolve_person(reading, PERSON_OLD), 20, before)

    for _ in range(1000):
        body = read_again(page)
        ids += [e["messageId"] for e in body["events"]]
        if body["next"] is None:
            return ids
        before = decode_cursor(body["next"])
    raise AssertionError("the pages never end")


def _read_while_rewritten(
    data: Path, tmp_path: Path, runs: int, until_wrong: bool = False
) -> list[list[str]]:
    """Every page ``runs`` times while the event files are rewritten (the first wrong set of pages
    ends it, with ``until_wrong``)."""
    root = tmp_path / "data"
    shutil.copytree(data, root)
    reverser = _reverser(root / "lake")
    assert reverser.files
    reverser.start()
    seen: list[list[str]] = []
    try:
        for _ in range(runs):
            seen.append(_all_pages(root))
            if until_wrong and seen[-1] != expected():
                break
    finally:
        reverser.stop.set()
        reverser.join()
    assert reverser.swaps > len(seen), reverser.swaps  # the files were rewritten while pages were read
    return seen


def test_pages_read_while_their_files_are_rewritten_are_the_hand_sorted_events(
    data: Path, tmp_path: Path
) -> None:
    want = expected()
    for ids in _read_while_rewritten(data, tmp_path, 12):
        assert ids == want


def test_without_the_check_a_rewrite_shows_the_wrong_rows(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the check is for: the second read trusted as it is, some pages are wrong."""
    monkeypatch.setattr(timeline_module, "_same_rows", lambda rows, found: True)
    want = expected()
    wrong = [ids for ids in _read_while_rewritten(data, tmp_path, 80, until_wrong=True) if ids != want]
    assert wrong, "no page went wrong: the rewrites no longer reach the reads, this test shows nothing"
