"""The pipeline's view of every host's log (docs/scale-out.md): for each UTC day, the files this
host has (its own, read in place) and the files the other hosts shipped (from the manifest). A
day is pending when that view differs from what the lake's manifest says it loaded, so a host
that ships late makes the day load again with its files. Loading a day stages it: a folder of
links to the local files and verified downloads of the others, which the daily ETL reads as it
reads ``data/log``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from headwater.batch.decisions import read_decisions_manifest
from headwater.config import Settings
from headwater.lake.layout import Lake
from headwater.log.files import LogKind, list_log_files
from headwater.shipping.manifest import Entry
from headwater.shipping.parts import download, read_range
from headwater.stores.objects.ports import ObjectStore, file_md5

#: the kinds the pipeline loads (the quarantine is shipped but not loaded)
PIPELINE_KINDS: tuple[LogKind, ...] = ("events", "decisions")


def cluster_sizes(settings: Settings, entries: Iterable[Entry], kind: LogKind) -> dict[date, dict[str, int]]:
    """Every host's files of ``kind`` by UTC day, with their sizes: shipped entries, and this host's
    own files as they are now (newer than a shipped copy when one changed since)."""
    out: dict[date, dict[str, int]] = {}
    for entry in entries:
        if entry.kind == kind:
            out.setdefault(date.fromisoformat(entry.day), {})[entry.name] = entry.size
    for lf in list_log_files(settings.log_dir, kind):
        try:
            out.setdefault(lf.day, {})[lf.name] = lf.path.stat().st_size
        except FileNotFoundError:
            continue
    return out


def shipped_sizes(entries: Iterable[Entry], day: date) -> dict[str, int]:
    """Every host's event files of a day still open as shipped so far (their hourly parts, this
    host's own included): the hours the pipeline loads before the day closes."""
    return {e.name: e.size for e in entries if e.kind == "events" and e.day == day.isoformat()}


def pending_days(settings: Settings, entries: list[Entry], today_utc: date) -> list[date]:
    """Days whose files, over every host, are not in the lake as they are: complete days (before
    today, UTC) as every host's files are, and today as far as every host shipped it (hour by hour)."""
    lake = Lake(settings.data_dir / "lake")
    events = cluster_sizes(settings, entries, "events")
    events[today_utc] = shipped_sizes(entries, today_utc)
    decisions = cluster_sizes(settings, entries, "decisions")
    loaded = lake.loaded_days()
    days = {d for d, files in events.items() if d not in loaded or loaded[d].get("files") != files}
    # a day is loaded again only from every file it was loaded from (and more): were one gone (a
    # host's retention, a lost disk), loading it again would drop that file's rows from the lake
    days = {d for d in days if set(loaded.get(d, {}).get("files", {})) <= set(events[d])}
    days = {d for d in days if events[d] or d in loaded}
    for day, files in decisions.items():
        manifest = read_decisions_manifest(lake, day)
        if day < today_utc and (manifest is None or manifest.get("files") != files):
            days.add(day)
    return sorted(d for d in days if d <= today_utc)


def stage_day(
    settings: Settings, store: ObjectStore, entries: list[Entry], day: date, today_utc: date | None = None
) -> Path:
    """A folder holding every host's event and decision files of ``day``: links to local files,
    downloads of the others (each checked against its entry's MD5; kept between runs and fetched
    again only when the entry changed). ChecksumMismatchError when a download is not its entry.
    Today (``today_utc``): every host's event files as far as they were shipped, this host's own
    copied up to its shipped size, so that every host's hours are loaded alike."""
    stage = settings.run_dir / "cluster-log" / day.isoformat()
    stage.mkdir(parents=True, exist_ok=True)
    if day == today_utc:
        return _stage_open_day(settings, store, entries, day, stage)
    wanted: set[str] = set()
    for kind in PIPELINE_KINDS:
        for lf in list_log_files(settings.log_dir, kind):
            if lf.day == day:
                _link(lf.path, stage / lf.name)
                wanted.add(lf.name)
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.kind not in PIPELINE_KINDS or entry.day != day.isoformat() or entry.name in wanted:
            continue
        _fetch(store, entry, stage / entry.name)
        wanted.add(entry.name)
    _keep_only(stage, wanted)
    return stage


def _stage_open_day(
    settings: Settings, store: ObjectStore, entries: list[Entry], day: date, stage: Path
) -> Path:
    wanted: set[str] = set()
    own = {lf.name: lf.path for lf in list_log_files(settings.log_dir, "events") if lf.day == day}
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.kind != "events" or entry.day != day.isoformat():
            continue
        target = stage / entry.name
        if entry.name in own:  # this host's: the bytes it shipped, read from its disk
            _copy_prefix(own[entry.name], target, entry.size)
        else:
            _fetch(store, entry, target)
        wanted.add(entry.name)
    _keep_only(stage, wanted)
    return stage


def _fetch(store: ObjectStore, entry: Entry, target: Path) -> None:
    if target.is_symlink():
        target.unlink()
    if not (target.exists() and target.stat().st_size == entry.size and file_md5(target) == entry.md5):
        download(store, entry, target)  # its object or its parts, each checked against its MD5


def _copy_prefix(source: Path, target: Path, size: int) -> None:
    """The first ``size`` bytes of this host's own file, copied again at every load (a copy kept
    from the last hour could still hold lines a deletion has blanked since in the file)."""
    if target.is_symlink():
        target.unlink()
    part = target.with_name(f".{target.name}.copy")
    with source.open("rb") as src, part.open("wb") as out:
        read_range(src, 0, size, out.write)
    os.replace(part, target)


def _keep_only(stage: Path, wanted: set[str]) -> None:
    for old in stage.iterdir():
        if old.name not in wanted:
            old.unlink()


def clear_stage(settings: Settings, keep: Iterable[date] = ()) -> None:
    """Remove staged days (downloads of other hosts' files) but those in ``keep``."""
    root = settings.run_dir / "cluster-log"
    if not root.is_dir():
        return
    kept = {d.isoformat() for d in keep}
    for folder in root.iterdir():
        if folder.name not in kept:
            shutil.rmtree(folder, ignore_errors=True)


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() and os.readlink(target) == str(source.resolve()):
        return
    target.unlink(missing_ok=True)
    target.symlink_to(source.resolve())
