"""A log file of a day still open, shipped hour by hour (docs/scale-out.md, "Hourly parts").

Each time an hour closes (its end plus the slack for requests in flight, rules.CLOSE_GRACE), the
whole lines appended to a file since its last part are uploaded as one more object,
``PREFIX/log/<kind>/date=D/<name>.part-<offset>``, verified by its MD5, and the file's manifest entry
lists its parts in order; the entry's ``size`` and ``md5`` are those of the whole prefix shipped. A
host lost with its disk loses at most the hour in progress, and the cluster's pipeline loads the
hours every host shipped (cluster/logs.py) instead of waiting for the day's end.

Once the file's day closes, the file is shipped whole (one object, as before: service._ship_file)
and its parts are deleted after its new entry is written, so a closed day's entry is always one
object. Readers get a file back with :func:`download`: the parts concatenated, each part and the
whole checked against their MD5s.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.log.files import LogFile
from headwater.shipping.manifest import Entry, Manifest, segment_key
from headwater.shipping.rules import CLOSE_GRACE
from headwater.stores.objects.ports import ChecksumMismatchError, ObjectStore, file_md5

CHUNK = 1 << 20


def last_close(now: datetime) -> datetime:
    """The last instant an hour closed: the end of an hour plus the grace, at or before ``now``."""
    moment = now.astimezone(UTC) - CLOSE_GRACE
    return moment.replace(minute=0, second=0, microsecond=0) + CLOSE_GRACE


def seconds_to_next_part(now: datetime | None = None) -> float:
    """Seconds until the next hour closes (a second after, so that the part is due then)."""
    now = now or datetime.now(UTC)
    return (last_close(now) + timedelta(hours=1) - now).total_seconds() + 1.0


def part_due(entry: Entry | None, now: datetime) -> bool:
    """Whether an hour closed since the file's last part (or it has none)."""
    return entry is None or datetime.fromisoformat(entry.shipped_at) < last_close(now)


def line_end(path: Path, size: int) -> int:
    """The end of the last whole line within the first ``size`` bytes of ``path``."""
    with path.open("rb") as fh:
        pos = size
        while pos > 0:
            start = max(0, pos - CHUNK)
            fh.seek(start)
            found = fh.read(pos - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            pos = start
    return 0


def read_range(fh: Any, start: int, end: int, *sinks: Callable[[bytes], object]) -> None:
    """Bytes ``start``..``end`` of ``fh``, chunk by chunk, into each of ``sinks``."""
    fh.seek(start)
    left = end - start
    while left > 0:
        chunk = fh.read(min(CHUNK, left))
        if not chunk:
            raise OSError("the file became shorter while it was read")
        for sink in sinks:
            sink(chunk)
        left -= len(chunk)


def ship_part(
    store: ObjectStore, manifest: Manifest, lf: LogFile, host: str, work_dir: Path, now: datetime
) -> tuple[Entry | None, int]:
    """Upload the lines appended to ``lf`` since its last part as one more part, and record it.
    Returns the file's entry (None when it has none) and the bytes uploaded (0: nothing new).
    When the bytes shipped before no longer match the local file (a deletion blanked lines in
    place since), the whole prefix is shipped again as one part that replaces the others."""
    entry = manifest.entries.get(lf.name)
    end = line_end(lf.path, lf.path.stat().st_size)
    shipped = entry.size if entry is not None else 0
    if end <= shipped:
        return entry, 0
    parts = _pieces(entry)
    digest = hashlib.md5(usedforsecurity=False)
    work_dir.mkdir(parents=True, exist_ok=True)
    with lf.path.open("rb") as fh, tempfile.NamedTemporaryFile(dir=work_dir, prefix=".part-") as tmp:
        read_range(fh, 0, shipped, digest.update)
        start = shipped
        if entry is not None and digest.hexdigest() != entry.md5:  # changed in place since
            digest, parts, start = hashlib.md5(usedforsecurity=False), [], 0
        piece = hashlib.md5(usedforsecurity=False)
        read_range(fh, start, end, digest.update, piece.update, tmp.write)
        tmp.flush()
        key = f"{segment_key(lf.kind, lf.day, lf.name)}.part-{start:012d}"
        info = store.put_file(key, Path(tmp.name), piece.hexdigest())
    parts.append(
        {"start": start, "size": end - start, "md5": piece.hexdigest(), "key": key, "version": info.version}
    )
    st = lf.path.stat()
    new = Entry(
        name=lf.name,
        kind=lf.kind,
        day=lf.day.isoformat(),
        writer=lf.writer,
        host=host,
        size=end,
        md5=digest.hexdigest(),
        mtime_ns=st.st_mtime_ns,
        key=segment_key(lf.kind, lf.day, lf.name),
        version=None,
        shipped_at=now.astimezone(UTC).isoformat(),  # when the hours before it closed (part_due)
        parts=parts,
    )
    manifest.record(new)
    stale = {p["key"] for p in _pieces(entry)} - {p["key"] for p in parts}
    for old in sorted(stale):  # replaced by the whole prefix shipped again
        store.delete(old)
    return new, end - start


def _pieces(entry: Entry | None) -> list[dict[str, Any]]:
    """The entry's objects as parts (a file shipped whole is its own first part)."""
    if entry is None:
        return []
    if entry.parts:
        return [dict(p) for p in entry.parts]
    return [{"start": 0, "size": entry.size, "md5": entry.md5, "key": entry.key, "version": entry.version}]


def drop_parts(store: ObjectStore, old: Entry | None, kept_key: str) -> None:
    """Delete the part objects of an entry replaced by one object at ``kept_key``."""
    if old is None or not old.parts:
        return
    for part in old.parts:
        if part["key"] != kept_key:
            store.delete(part["key"])


def download(store: ObjectStore, entry: Entry, target: Path) -> None:
    """The bytes of ``entry`` into ``target`` (written whole, then renamed into place): its object,
    or its parts in order; every part and the whole checked against their MD5s.
    ChecksumMismatchError when an object is not what the entry says (nothing is left at target)."""
    tmp = target.with_name(f".{target.name}.download")
    try:
        if not entry.parts:
            store.get_file(entry.key, tmp)
        else:
            piece = target.with_name(f".{target.name}.piece")
            with tmp.open("wb") as out:
                for part in entry.parts:
                    store.get_file(part["key"], piece)
                    if file_md5(piece) != part["md5"]:
                        raise ChecksumMismatchError(_mismatch(store, part["key"], part["md5"], entry))
                    with piece.open("rb") as src:
                        shutil.copyfileobj(src, out, CHUNK)
            piece.unlink(missing_ok=True)
        if file_md5(tmp) != entry.md5:
            raise ChecksumMismatchError(_mismatch(store, entry.key, entry.md5, entry))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _mismatch(store: ObjectStore, key: str, md5: str, entry: Entry) -> str:
    return (
        f"{key} on {store.display} is not what the manifest says (MD5 {md5}):"
        f" ship it again from host {entry.host}"
    )


def as_whole(entry: Entry, md5: str, size: int, mtime_ns: int, version: str | None) -> Entry:
    """The entry of a file shipped whole again (at its own key), its parts dropped."""
    return replace(
        entry,
        md5=md5,
        size=size,
        mtime_ns=mtime_ns,
        version=version,
        parts=None,
        shipped_at=datetime.now(UTC).isoformat(),
    )
