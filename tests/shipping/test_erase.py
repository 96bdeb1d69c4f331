"""A deletion reaches the shipped copies of the log (real GCS emulator): a copy whose local file is
gone is downloaded, the person's lines blanked, put back and verified; a copy whose local file the
log step erased is replaced by it; the others' lines stay, byte for byte; a second run rewrites
nothing; and the deletion runner does it as part of its log step."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from headwater.config import Settings
from headwater.log.erase import erase_from_log
from headwater.shipping.erase import erase_shipped
from headwater.shipping.manifest import Manifest, segment_key
from headwater.shipping.service import open_store, ship
from headwater.stores.objects.ports import file_md5
from tests.batch.logdata import ev, write_log
from tests.object_stores import StoreServer

NOW = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
PERSON = "erase-me-42"


def _day(data: Path, day: date, writer: str) -> Path:
    events = [ev(f"{day}T1{i}:00:00Z", user=PERSON if i % 2 else f"other-{i}") for i in range(6)]
    write_log(data, events, writer=writer)
    return data / "log" / f"events-{day:%Y%m%d}.{writer}.jsonl"


def test_shipped_copies_lose_the_person(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    settings = Settings(data_dir=tmp_path, object_store_url=url)  # type: ignore[call-arg]
    gone = _day(tmp_path, date(2026, 12, 7), "t")
    kept = _day(tmp_path, date(2026, 12, 8), "t")
    clean = tmp_path / "log" / "events-20261209.t.jsonl"
    write_log(tmp_path, [ev("2026-12-09T10:00:00Z", user="someone-else")], writer="t")
    assert sorted(ship(settings, NOW).uploaded) == sorted([gone.name, kept.name, clean.name])
    original = gone.read_bytes()
    gone.unlink()  # as raw-log retention does once the day is shipped and loaded
    before = {p.name: p.read_bytes() for p in (kept, clean)}

    erase_from_log(settings.log_dir, [PERSON])  # the log step: the local files first
    report = erase_shipped(settings, [PERSON])
    assert report == {"objects_checked": 3, "objects_rewritten": 2, "lines_erased": 3}, report

    store = open_store(settings)
    for path, day in ((gone, date(2026, 12, 7)), (kept, date(2026, 12, 8))):
        body = store.get_bytes(segment_key("events", day, path.name))
        assert PERSON.encode() not in body
        others = [json.loads(line) for line in body.splitlines() if line.strip()]
        assert [e["userId"] for e in others] == ["other-0", "other-2", "other-4"]
    assert len(store.get_bytes(segment_key("events", date(2026, 12, 7), gone.name))) == len(original)
    assert store.get_bytes(segment_key("events", date(2026, 12, 8), kept.name)) == kept.read_bytes()
    assert store.get_bytes(segment_key("events", date(2026, 12, 9), clean.name)) == before[clean.name]
    entries = Manifest(store, settings).load().entries
    assert entries[kept.name].md5 == file_md5(kept) and entries[kept.name].mtime_ns == kept.stat().st_mtime_ns
    store.close()
    assert not list(settings.run_dir.glob("erase-shipped-*"))  # downloads removed

    assert erase_shipped(settings, [PERSON]) == {
        "objects_checked": 3,
        "objects_rewritten": 0,
        "lines_erased": 0,
    }
    assert ship(settings, NOW).uploaded == []  # the manifest says the copies are the files as they are


def test_the_deletion_reaches_them(gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import cli

    url = gcs.new_bucket(monkeypatch)
    data = tmp_path / "data"
    settings = Settings(data_dir=data, object_store_url=url)  # type: ignore[call-arg]
    path = _day(data, date(2026, 12, 7), "t")
    assert ship(settings, NOW).uploaded == [path.name]
    path.unlink()
    env = {"HEADWATER_OBJECT_STORE_URL": url}
    done = cli(data, "privacy", "delete", PERSON, env=env, check=False)
    assert done.returncode == 0, done.stderr
    shown = json.loads(cli(data, "privacy", "status", "--json", env=env).stdout)
    progress = (shown["regulations"][0] if "regulations" in shown else shown[0])["progress"]
    assert progress["log"]["shipped"]["objects_rewritten"] == 1, progress
    store = open_store(settings)
    assert PERSON.encode() not in store.get_bytes(segment_key("events", date(2026, 12, 7), path.name))
    store.close()
