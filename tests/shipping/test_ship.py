"""Log shipping against a real GCS emulator (no mock of the store): what is shipped when, verified,
recorded, and deleted only when retention lets it go; and every fault leaves the files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.shipping.manifest import Manifest, entry_key, segment_key
from headwater.shipping.parts import download, last_close, seconds_to_next_part
from headwater.shipping.service import ship
from headwater.shipping.status import shipping_status
from headwater.stores.objects import open_object_store
from headwater.stores.objects.ports import ChecksumMismatchError, file_md5
from tests.batch.logdata import ev, write_log
from tests.object_stores import StoreServer, free_port

NOW = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)


def _quarantine(data_dir: Path, day: date, writer: str = "t") -> Path:
    path = data_dir / "log" / f"quarantine-{day:%Y%m%d}.{writer}.jsonl"
    path.write_text(json.dumps({"reason": "bad", "receivedAt": f"{day}T10:00:00Z"}) + "\n")
    return path


def _events(data_dir: Path, day: date, n: int = 3, writer: str = "t") -> Path:
    write_log(data_dir, [ev(f"{day}T1{i}:00:00Z", user=f"u{i}") for i in range(n)], writer=writer)
    return data_dir / "log" / f"events-{day:%Y%m%d}.{writer}.jsonl"


def _settings(data_dir: Path, url: str, **kw: object) -> Settings:
    return Settings(data_dir=data_dir, object_store_url=url, **kw)  # type: ignore[arg-type]


def test_closed_files_are_shipped_verified_and_recorded_once(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    old = _events(tmp_path, date(2026, 12, 8))
    q = _quarantine(tmp_path, date(2026, 12, 8))
    yesterday = _events(tmp_path, date(2026, 12, 9), writer="w2")
    today = _events(tmp_path, date(2026, 12, 10))
    settings = _settings(tmp_path, url)

    dry = ship(settings, NOW, dry_run=True)
    assert dry.uploaded == [] and "would upload" in dry.skipped[old.name]

    report = ship(settings, NOW)
    assert sorted(report.uploaded) == sorted([old.name, yesterday.name, q.name]), report
    assert report.errors == {} and report.deleted == []
    assert report.parts == [f"{today.name}.part-000000000000"]  # today's: hour by hour (below)
    assert "retention is off" in report.kept[old.name]
    assert report.bytes == sum(p.stat().st_size for p in (old, yesterday, q, today))
    store = open_object_store(url)
    obj = store.stat(segment_key("events", date(2026, 12, 8), old.name))
    assert obj is not None and obj.md5 == file_md5(old)
    entry = json.loads(store.get_bytes(entry_key("events", date(2026, 12, 8), old.name)))
    assert entry["md5"] == file_md5(old) and entry["size"] == old.stat().st_size and entry["writer"] == "t"

    again = ship(settings, NOW)  # idempotent: nothing uploaded twice
    assert again.uploaded == [] and again.errors == {} and again.bytes == 0
    # a restarted host without its local copy of the manifest reads the store's
    (tmp_path / "shipping" / "manifest.json").unlink()
    assert ship(settings, NOW).uploaded == []

    # a file that changes after it was shipped (a late append) is shipped again
    with old.open("a") as fh:
        fh.write(json.dumps(ev("2026-12-08T23:59:59Z", user="late")) + "\n")
    assert ship(settings, NOW).uploaded == [old.name]


def test_a_day_is_shipped_only_after_its_grace(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, gcs.new_bucket(monkeypatch))
    path = _events(tmp_path, date(2026, 12, 9))
    early = ship(settings, datetime(2026, 12, 10, 0, 1, tzinfo=UTC))
    assert early.uploaded == [] and early.parts == [f"{path.name}.part-000000000000"]
    again = ship(settings, datetime(2026, 12, 10, 0, 2, tzinfo=UTC))  # no hour closed since
    assert again.parts == [] and again.skipped[path.name].startswith("open: its next part after 00:05Z")
    assert ship(settings, datetime(2026, 12, 10, 0, 6, tzinfo=UTC)).uploaded == [path.name]


def test_local_files_go_only_when_retention_lets_them(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    loaded = _events(tmp_path, date(2026, 11, 20))
    loaded_q = _quarantine(tmp_path, date(2026, 11, 20))
    not_loaded = _events(tmp_path, date(2026, 11, 21))
    recent = _events(tmp_path, date(2026, 12, 8))
    run_daily(tmp_path, date(2026, 11, 20), "UTC")
    run_daily(tmp_path, date(2026, 12, 8), "UTC")
    archive_month(tmp_path, 2026, 11)
    settings = _settings(tmp_path, url, raw_retention_days=5)

    report = ship(settings, NOW)
    assert report.errors == {}
    assert sorted(report.deleted) == sorted([loaded.name, loaded_q.name])
    assert sorted(report.verified) == sorted([loaded.name, loaded_q.name])
    assert not loaded.exists() and not loaded_q.exists()
    assert "not loaded into the lake" in report.kept[not_loaded.name] and not_loaded.exists()
    assert report.kept[recent.name] == "retention keeps it until 2026-12-14" and recent.exists()

    # the shipped copies follow the same retention: gone from the bucket too, entry first
    assert sorted(report.expired) == sorted([loaded.name, loaded_q.name])
    store = open_object_store(url)
    keys = {o.key for o in store.list("")}
    assert not any(loaded.name in k or loaded_q.name in k for k in keys), keys
    assert any(recent.name in k for k in keys) and any(not_loaded.name in k for k in keys)
    status = shipping_status(settings, store, NOW)
    assert status["error"] is None and status["waiting"] == 0 and status["lag_seconds"] == 0
    assert status["shipped_elsewhere"]["files"] == 0
    states = {f["name"]: (f["state"], f["why"]) for f in status["files"]}
    assert states[not_loaded.name] == ("shipped", "kept: not loaded into the lake yet (daily ETL)")


def test_an_unreachable_store_deletes_nothing_and_the_next_run_ships(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    path = _events(tmp_path, date(2026, 12, 1))
    monkeypatch.setattr("headwater.stores.objects.gcs.CALL_TIMEOUT", 1.0)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    settings = _settings(tmp_path, url, raw_retention_days=1)
    down = ship(settings, NOW)
    assert down.uploaded == [] and down.deleted == [] and "store" in down.errors and path.exists()
    status = shipping_status(settings, open_object_store(url), NOW)
    assert status["error"] and status["waiting"] == 1 and status["lag_seconds"] == 8 * 86400 + 3300
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.endpoint)
    assert ship(settings, NOW).uploaded == [path.name]


def test_an_object_changed_in_the_store_is_never_trusted(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    path = _events(tmp_path, date(2026, 11, 20))
    run_daily(tmp_path, date(2026, 11, 20), "UTC")
    archive_month(tmp_path, 2026, 11)
    assert ship(_settings(tmp_path, url), NOW).uploaded == [path.name]  # retention off: kept
    gcs.overwrite(url, segment_key("events", date(2026, 11, 20), path.name), b"tampered\n")

    settings = _settings(tmp_path, url, raw_retention_days=5)
    report = ship(settings, NOW)
    assert report.deleted == [] and path.exists()
    assert "checksum mismatch" in report.errors[path.name]
    # the entry that no longer holds is dropped: the next run uploads again, verifies, deletes
    report = ship(settings, NOW)
    assert report.uploaded == [path.name] and report.deleted == [path.name] and not path.exists()


def test_an_upload_killed_half_way_is_uploaded_again(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    big = tmp_path / "log" / "events-20261201.t.jsonl"
    big.parent.mkdir(parents=True)
    line = json.dumps(ev("2026-12-01T10:00:00Z", user="u")).encode() + b"\n"
    big.write_bytes(line * ((48 << 20) // len(line)))  # three resumable chunks
    script = textwrap.dedent(
        f"""
        import os, signal
        from datetime import datetime, UTC
        from pathlib import Path
        from headwater.config import Settings
        from headwater.shipping.service import ship

        def progress(name, done, size):
            if done >= size * 2 // 3:  # the first chunk is in the store, the second read
                os.kill(os.getpid(), signal.SIGKILL)

        ship(Settings(data_dir=Path({str(tmp_path)!r}), object_store_url={url!r}),
             datetime(2026, 12, 10, 1, tzinfo=UTC), progress=progress)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], env=dict(os.environ), timeout=120)
    assert killed.returncode == -9
    store = open_object_store(url)
    assert store.list("manifest/") == []  # no entry claims it
    assert store.stat(segment_key("events", date(2026, 12, 1), big.name)) is None  # nor a whole object
    report = ship(_settings(tmp_path, url), NOW)
    assert report.uploaded == [big.name] and report.errors == {}
    stored = store.stat(segment_key("events", date(2026, 12, 1), big.name))
    assert stored is not None and stored.md5 == file_md5(big) and stored.size == big.stat().st_size


def test_a_writer_id_shipped_by_another_host_is_refused(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    path = _events(tmp_path, date(2026, 12, 1))
    settings = _settings(tmp_path, url)
    assert ship(settings, NOW).uploaded == [path.name]
    monkeypatch.setattr("headwater.shipping.service.host_name", lambda: "another-host")
    with path.open("a") as fh:
        fh.write("{}\n")
    report = ship(settings, NOW)
    assert report.uploaded == [] and "HEADWATER_WRITER_ID" in report.errors[path.name]


def test_the_setting_refuses_a_bad_url_by_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from headwater.settings_loader import load_settings

    for bad in ("ftp://bucket/x", "gs:/bucket", "s3://Bucket/x"):
        monkeypatch.setenv("HEADWATER_OBJECT_STORE_URL", bad)
        with pytest.raises(ValidationError, match="HEADWATER_OBJECT_STORE_URL"):
            load_settings()


def test_a_shipped_day_of_every_host_is_fetched_back(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from headwater.shipping.fetch import fetch_day
    from headwater.stores.objects.ports import ChecksumMismatchError

    url = gcs.new_bucket(monkeypatch)
    hosts = {}
    for host in ("host-a", "host-b"):
        data = tmp_path / host
        hosts[host] = _events(data, date(2026, 12, 1), writer=host)
        monkeypatch.setattr("headwater.shipping.service.host_name", lambda host=host: host)
        assert ship(_settings(data, url), NOW).uploaded == [hosts[host].name]
    reader = _settings(tmp_path / "reader", url)
    store = open_object_store(url)
    got = fetch_day(reader, store, date(2026, 12, 1), tmp_path / "stage")
    assert [p.name for p in got] == sorted(p.name for p in hosts.values())
    assert all(file_md5(p) == file_md5(hosts[p.name.split(".")[1]]) for p in got)
    assert fetch_day(reader, store, date(2026, 12, 2), tmp_path / "stage2") == []
    gcs.overwrite(url, segment_key("events", date(2026, 12, 1), hosts["host-a"].name), b"x\n")
    (tmp_path / "stage" / hosts["host-a"].name).unlink()
    with pytest.raises(ChecksumMismatchError):
        fetch_day(reader, store, date(2026, 12, 1), tmp_path / "stage")


def test_a_shipped_quarantine_copy_follows_the_quarantine_retention(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from headwater.privacy.retention import apply_privacy_retention

    url = gcs.new_bucket(monkeypatch)
    (tmp_path / "log").mkdir()
    old_q = _quarantine(tmp_path, date(2026, 11, 20))
    settings = _settings(tmp_path, url, quarantine_retention_days=7)  # raw-log retention is off
    assert ship(settings, NOW).uploaded == [old_q.name]
    apply_privacy_retention(settings, NOW.date())  # the local file goes after 7 days
    assert not old_q.exists()
    report = ship(settings, NOW)
    assert report.expired == [old_q.name] and report.errors == {}
    assert not [o for o in open_object_store(url).list("") if old_q.name in o.key]


def _objects(url: str) -> dict[str, int]:
    store = open_object_store(url)
    try:
        return {o.key.rsplit("/", 1)[-1]: o.size for o in store.list("log/")}
    finally:
        store.close()


def test_a_file_of_a_day_still_open_is_shipped_hour_by_hour_then_whole(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    settings = _settings(tmp_path, url)
    day = date(2026, 12, 10)
    path = _events(tmp_path, day, 3)
    first = path.stat().st_size
    at = lambda h, m: datetime(2026, 12, 10, h, m, tzinfo=UTC)  # noqa: E731
    assert ship(settings, at(10, 7)).parts == [f"{path.name}.part-000000000000"]
    # a write in progress: half a line at the end is not shipped
    with path.open("a") as fh:
        fh.write(json.dumps(ev("2026-12-10T10:20:00Z", user="x")) + "\n" + '{"half": ')
    assert ship(settings, at(10, 30)).parts == []  # the hour has not closed yet
    second = ship(settings, at(11, 6))
    assert second.parts == [f"{path.name}.part-{first:012d}"] and second.errors == {}
    whole_lines = path.read_bytes()[: path.read_bytes().rindex(b"\n") + 1]
    store = open_object_store(url)
    entry = Manifest(store, _settings(tmp_path / "reader", url)).load().entries[path.name]
    assert entry.size == len(whole_lines) and entry.md5 == hashlib.md5(whole_lines).hexdigest()
    assert [p["start"] for p in entry.parts or []] == [0, first]
    got = tmp_path / "got"
    download(store, entry, got)
    assert got.read_bytes() == whole_lines
    with path.open("a") as fh:
        fh.write('"line"}\n')
    assert ship(settings, at(11, 40)).parts == []  # the next part waits for 12:05
    # a deletion blanked a line in place: the whole prefix is shipped again as one part
    raw = bytearray(path.read_bytes())
    raw[0:10] = b" " * 10
    path.write_bytes(bytes(raw))
    third = ship(settings, at(12, 6))
    assert third.parts == [f"{path.name}.part-000000000000"], third
    assert sorted(_objects(url)) == [f"{path.name}.part-000000000000"]  # the stale parts deleted
    # the day closes: the file is shipped whole and its parts deleted
    closed = ship(settings, datetime(2026, 12, 11, 0, 6, tzinfo=UTC))
    assert closed.uploaded == [path.name] and closed.errors == {}
    assert _objects(url) == {path.name: path.stat().st_size}
    entry = Manifest(store, _settings(tmp_path / "reader", url)).load().entries[path.name]
    assert entry.parts is None and entry.md5 == file_md5(path)
    assert ship(settings, datetime(2026, 12, 11, 0, 30, tzinfo=UTC)).uploaded == []  # once
    store.close()


def test_a_part_that_is_not_what_the_manifest_says_is_refused(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    settings = _settings(tmp_path, url)
    path = _events(tmp_path, date(2026, 12, 10), 3)
    ship(settings, datetime(2026, 12, 10, 10, 7, tzinfo=UTC))
    with path.open("a") as fh:
        fh.write(json.dumps(ev("2026-12-10T10:20:00Z", user="x")) + "\n")
    ship(settings, datetime(2026, 12, 10, 11, 7, tzinfo=UTC))
    store = open_object_store(url)
    entry = Manifest(store, _settings(tmp_path / "reader", url)).load().entries[path.name]
    assert entry.parts is not None and len(entry.parts) == 2
    store.put_bytes(entry.parts[1]["key"], b"tampered\n")
    with pytest.raises(ChecksumMismatchError, match="not what the manifest says"):
        download(store, entry, tmp_path / "got")
    assert not (tmp_path / "got").exists()
    store.close()


def test_the_server_ships_a_part_after_each_hour_closes() -> None:
    # the scheduler's wait between parts (batch/scheduler.py): 5 minutes past each hour, plus a second
    assert seconds_to_next_part(datetime(2026, 12, 10, 10, 7, tzinfo=UTC)) == 58 * 60 + 1
    assert seconds_to_next_part(datetime(2026, 12, 10, 10, 4, tzinfo=UTC)) == 61
    assert last_close(datetime(2026, 12, 10, 0, 4, tzinfo=UTC)) == datetime(2026, 12, 9, 23, 5, tzinfo=UTC)
