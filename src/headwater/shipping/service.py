"""``ship(settings, now)``: upload every closed log file not shipped yet, verify it, record it in the
manifest, and delete the days that are shipped whole and that raw-log retention lets go. A file of
a day still open is shipped hour by hour (parts.py), and whole once its day closes.

Nothing is deleted on any doubt: a failed or interrupted upload leaves no manifest entry (the next
run uploads again), a store that does not answer stops the run, and before a day is deleted every
file of it is hashed again and compared with what the store reports now.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from headwater.batch.etl import etl_lock
from headwater.batch.holds import Hold
from headwater.config import Settings
from headwater.lake.layout import Lake
from headwater.log.files import LogFile, list_log_files
from headwater.shipping.expiry import expire_shipped
from headwater.shipping.manifest import KINDS, Entry, Manifest, host_name, segment_key
from headwater.shipping.parts import drop_parts, last_close, part_due, ship_part
from headwater.shipping.rules import closes_at, is_closed, keep_reason
from headwater.stores.objects import open_object_store
from headwater.stores.objects.ports import (
    ObjectStore,
    ObjectStoreError,
    ObjectStoreUnreachableError,
    file_md5,
)

HOUR = timedelta(hours=1)

#: progress of one upload: (file name, bytes sent, file size)
ShipProgress = Callable[[str, int, int], None]


class ShippingError(Exception):
    """Shipping cannot run (no store configured, a bad URL, a missing driver)."""


@dataclass(slots=True)
class ShipReport:
    store: str
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)  # uploaded and verified this run
    parts: list[str] = field(default_factory=list)  # hourly parts of open files (<name>.part-<offset>)
    verified: list[str] = field(default_factory=list)  # checked against the store before deleting
    deleted: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # shipped copies deleted: their retention is over
    kept: dict[str, str] = field(default_factory=dict)  # shipped, kept on disk: why
    skipped: dict[str, str] = field(default_factory=dict)  # not shipped: why
    errors: dict[str, str] = field(default_factory=dict)  # file name (or "store"): what failed
    bytes: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_store(settings: Settings) -> ObjectStore:
    if not settings.object_store_url:
        raise ShippingError(
            "no object store is configured: set HEADWATER_OBJECT_STORE_URL=gs://BUCKET/PREFIX"
            " or s3://BUCKET/PREFIX (docs/scale-out.md)"
        )
    try:
        return open_object_store(settings.object_store_url)
    except ObjectStoreError as exc:
        raise ShippingError(str(exc)) from None


def ship(
    settings: Settings,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    progress: ShipProgress | None = None,
    still_needed: Hold | None = None,
    store: ObjectStore | None = None,
    include_open: bool = False,
) -> ShipReport:
    """Ship every closed log file (events, quarantine) of this host; see the module's docstring.
    ``still_needed``: the warehouse's hold on raw-log retention (batch.holds.not_exported).
    ``include_open``: a part of today's files now, without waiting for an hour to close (a host that
    drained: nothing is appended to them any more; what is appended after it rejoins goes in the
    next parts)."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    own = store is None
    store = store or open_store(settings)
    report = ShipReport(store.display, dry_run)
    try:
        with _run_lock(settings):  # one run at a time per host (the server's, cron's, the CLI's)
            _ship_all(settings, store, report, now, dry_run, progress, still_needed, include_open)
    except ObjectStoreUnreachableError as exc:
        report.errors.setdefault("store", f"{exc}" or "the object store does not answer")
    except ObjectStoreError as exc:
        report.errors["store"] = str(exc)
    finally:
        report.seconds = round(time.monotonic() - started, 3)
        if own:
            store.close()
    return report


@contextmanager
def _run_lock(settings: Settings) -> Iterator[None]:
    folder = settings.data_dir / "shipping"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ship_all(
    settings: Settings,
    store: ObjectStore,
    report: ShipReport,
    now: datetime,
    dry_run: bool,
    progress: ShipProgress | None,
    still_needed: Hold | None,
    include_open: bool = False,
) -> None:
    manifest = Manifest(store, settings).load()
    # in a cluster the decision log is shipped too: the pipeline host loads every host's (it stays
    # on disk: its own retention deletes it once the lake holds it)
    for kind in (*KINDS, "decisions") if settings.cluster else KINDS:
        for day, files in _by_day(list_log_files(settings.log_dir, kind)).items():
            if not is_closed(day, now):  # hour by hour (parts.py); a draining host: now
                for lf in files:
                    _ship_part(settings, store, manifest, lf, report, now, dry_run, include_open)
                continue
            shipped = [_ship_file(store, manifest, lf, report, dry_run, progress) for lf in files]
            if dry_run or any(e is None for e in shipped):
                continue
            _delete_day(settings, store, manifest, kind, day, files, now, still_needed, report)
    expired, errors = expire_shipped(settings, store, manifest, now, still_needed, dry_run)
    report.expired += expired
    report.errors.update(errors)


def _by_day(files: list[LogFile]) -> dict[date, list[LogFile]]:
    out: dict[date, list[LogFile]] = {}
    for lf in files:
        out.setdefault(lf.day, []).append(lf)
    return out


def _ship_part(
    settings: Settings,
    store: ObjectStore,
    manifest: Manifest,
    lf: LogFile,
    report: ShipReport,
    now: datetime,
    dry_run: bool,
    force: bool,
) -> None:
    """A file of a day still open: its lines since its last part, once an hour closed since."""
    entry = manifest.entries.get(lf.name)
    closes = f"its day closes at {closes_at(lf.day):%Y-%m-%dT%H:%M}Z"
    if entry is not None and entry.host != host_name():
        report.errors[lf.name] = _name_clash(entry)
        return
    if not (force or part_due(entry, now)):
        report.skipped[lf.name] = f"open: its next part after {last_close(now) + HOUR:%H:%M}Z, {closes}"
        return
    if dry_run:
        report.skipped[lf.name] = f"open: would upload the lines since its last part; {closes}"
        return
    try:
        new, sent = ship_part(store, manifest, lf, host_name(), settings.data_dir / "shipping", now)
    except FileNotFoundError:
        return
    except ObjectStoreUnreachableError:
        raise
    except ObjectStoreError as exc:
        report.errors[lf.name] = f"{exc}; not recorded, shipped again next run"
        return
    if sent and new is not None and new.parts:
        report.parts.append(new.parts[-1]["key"].rsplit("/", 1)[-1])
        report.bytes += sent
    else:
        report.skipped[lf.name] = f"open: nothing new since its last part; {closes}"


def _name_clash(entry: Entry) -> str:
    return (
        f"host {entry.host} shipped a file of this name: give every host its own writer id"
        " (HEADWATER_WRITER_ID); not shipped"
    )


def _ship_file(
    store: ObjectStore,
    manifest: Manifest,
    lf: LogFile,
    report: ShipReport,
    dry_run: bool,
    progress: ShipProgress | None,
) -> Entry | None:
    """The file's manifest entry once it is shipped as it is now (uploading it if needed); None
    when it is not (dry run, or an error recorded in the report)."""
    try:
        st = lf.path.stat()
    except FileNotFoundError:
        return None
    entry = manifest.entries.get(lf.name)
    if entry is not None and entry.host != host_name():
        report.errors[lf.name] = _name_clash(entry)
        return None
    whole = entry is not None and not entry.parts  # a closed day's file shipped in parts: whole now
    if whole and entry is not None and entry.size == st.st_size and entry.mtime_ns == st.st_mtime_ns:
        return entry
    md5 = file_md5(lf.path)
    if whole and entry is not None and entry.size == st.st_size and entry.md5 == md5:  # touched, same bytes
        if not dry_run:
            entry = replace(entry, mtime_ns=st.st_mtime_ns)
            manifest.record(entry)
        return entry
    if dry_run:
        report.skipped[lf.name] = f"would upload {st.st_size} bytes" + (" again (changed)" if entry else "")
        return None
    key = segment_key(lf.kind, lf.day, lf.name)
    size = st.st_size

    def sent(done: int) -> None:
        if progress is not None:
            progress(lf.name, done, size)

    try:
        info = store.put_file(key, lf.path, md5, sent)
    except ObjectStoreUnreachableError:
        raise
    except ObjectStoreError as exc:  # a checksum mismatch (the file changed while sent), a refusal
        report.errors[lf.name] = f"{exc}; not recorded, shipped again next run"
        return None
    new = Entry(
        name=lf.name,
        kind=lf.kind,
        day=lf.day.isoformat(),
        writer=lf.writer,
        host=host_name(),
        size=size,
        md5=md5,
        mtime_ns=st.st_mtime_ns,
        key=key,
        version=info.version,
        shipped_at=datetime.now(UTC).isoformat(),
    )
    manifest.record(new)
    drop_parts(store, entry, key)  # once the whole file's entry is written
    report.uploaded.append(lf.name)
    report.bytes += size
    return new


def _delete_day(
    settings: Settings,
    store: ObjectStore,
    manifest: Manifest,
    kind: str,
    day: date,
    files: list[LogFile],
    now: datetime,
    still_needed: Hold | None,
    report: ShipReport,
) -> None:
    """Delete a shipped day's files when retention lets them go and each is verified again."""
    reason = keep_reason(settings, kind, day, now, still_needed)
    if reason is not None:
        for lf in files:
            report.kept[lf.name] = reason
        return
    for lf in files:
        entry = manifest.entries[lf.name]
        info = store.stat(entry.key)
        if info is None or info.md5 != entry.md5 or info.size != entry.size:
            held = "nothing" if info is None else f"{info.size} bytes, MD5 {info.md5}"
            report.errors[lf.name] = (
                f"checksum mismatch: the store holds {held}, the manifest says {entry.size} bytes,"
                f" MD5 {entry.md5}; not deleted, shipped again next run"
            )
            manifest.forget(entry)
            return
        if file_md5(lf.path) != entry.md5:
            report.errors[lf.name] = "the local file changed since it was shipped; not deleted, shipped again"
            return
        report.verified.append(lf.name)
    with etl_lock(Lake(settings.data_dir / "lake"), wait=False) as free:
        if not free:
            for lf in files:
                report.kept[lf.name] = "the daily ETL is running: deleted at the next run"
            return
        if keep_reason(settings, kind, day, now, still_needed) is not None:
            return  # the ETL changed something between the check and the lock
        for lf in files:
            lf.path.unlink(missing_ok=True)
            report.deleted.append(lf.name)
