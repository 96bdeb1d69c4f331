"""The shipping manifest: one small JSON object per shipped log file, in the object store next to
the files, written only once the upload is verified.

```
PREFIX/log/<kind>/date=YYYY-MM-DD/<kind>-YYYYMMDD.<writer>.jsonl        the file, as it was on disk
PREFIX/manifest/<kind>/date=YYYY-MM-DD/<kind>-YYYYMMDD.<writer>.jsonl.json  its entry
PREFIX/log/<kind>/date=YYYY-MM-DD/<kind>-YYYYMMDD.<writer>.jsonl.part-<offset>  an hour's part (open day)
```

An entry says: these bytes (size, MD5) of this writer's file were uploaded and the store reported
the same MD5. One object per file, so hosts never write the same manifest object and a put is
atomic: no entry can claim an upload that did not finish. Any host reads the whole manifest by
listing ``manifest/``; each host keeps a local copy (``data/shipping/manifest.json``, a cache keyed
by the entries' versions, rebuilt from the store when missing) so a run fetches only new entries,
and raw-log retention can tell what is shipped without calling the store.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.config import Settings
from headwater.log.files import LogFile, LogKind, list_log_files
from headwater.stores.objects.ports import ObjectStore

SEGMENTS = "log"
ENTRIES = "manifest"
#: the logs shipped (the decision log stays local: docs/scale-out.md)
KINDS: tuple[LogKind, ...] = ("events", "quarantine")


def segment_key(kind: str, day: date, name: str) -> str:
    return f"{SEGMENTS}/{kind}/date={day.isoformat()}/{name}"


def entry_key(kind: str, day: date, name: str) -> str:
    return f"{ENTRIES}/{kind}/date={day.isoformat()}/{name}.json"


def host_name() -> str:
    return os.uname().nodename


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: str
    day: str  # YYYY-MM-DD (UTC, the file's day)
    writer: str
    host: str
    size: int
    md5: str  # hex, of the local file and as the store reported it
    mtime_ns: int  # of the local file when shipped (unchanged size and mtime: not hashed again)
    key: str  # the file's object key
    version: str | None  # the object's generation (GCS) or ETag (S3)
    shipped_at: str
    #: a file of a day still open, shipped hour by hour (shipping/parts.py): its pieces in order,
    #: each {"start", "size", "md5", "key", "version"}; ``size`` and ``md5`` are those of the
    #: whole prefix shipped. None: the file is one object, at ``key``.
    parts: list[dict[str, Any]] | None = None

    @property
    def entry_key(self) -> str:
        return entry_key(self.kind, date.fromisoformat(self.day), self.name)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        fields = cls.__dataclass_fields__
        return cls(**{k: data.get(k) for k in fields})  # type: ignore[arg-type]

    @property
    def keys(self) -> list[str]:
        """Every object of the entry: its parts, or its one object."""
        return [p["key"] for p in self.parts] if self.parts else [self.key]

    def matches(self, lf: LogFile) -> bool:
        """Whether the local file is, by size and modification time, the one this entry shipped."""
        try:
            st = lf.path.stat()
        except FileNotFoundError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def cache_path(settings: Settings) -> Path:
    return settings.data_dir / "shipping" / "manifest.json"


def _read_cache(settings: Settings) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(cache_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(settings: Settings, cache: dict[str, Any]) -> None:
    path = cache_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(cache, sort_keys=True).encode())


class Manifest:
    """The store's manifest as this host last read it, with the local cache kept in step."""

    def __init__(self, store: ObjectStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._cache: dict[str, Any] = {}
        self.entries: dict[str, Entry] = {}

    def load(self) -> Manifest:
        """Read every entry of the store (only those not cached at the same version are fetched)."""
        cached = _read_cache(self.settings)
        fresh: dict[str, Any] = {}
        for info in self.store.list(f"{ENTRIES}/"):
            hit = cached.get(info.key)
            if hit is not None and hit.get("version") == info.version:
                entry = Entry.from_dict(hit["entry"])
            else:
                entry = Entry.from_dict(json.loads(self.store.get_bytes(info.key)))
            fresh[info.key] = {"version": info.version, "entry": asdict(entry)}
            self.entries[entry.name] = entry
        self._cache = fresh
        _write_cache(self.settings, fresh)
        return self

    def record(self, entry: Entry) -> None:
        info = self.store.put_bytes(entry.entry_key, entry.to_json())
        self.entries[entry.name] = entry
        self._cache[entry.entry_key] = {"version": info.version, "entry": asdict(entry)}
        _write_cache(self.settings, self._cache)

    def forget(self, entry: Entry) -> None:
        """Drop an entry that no longer holds (the object changed): the file is shipped again."""
        self.store.delete(entry.entry_key)
        self.entries.pop(entry.name, None)
        self._cache.pop(entry.entry_key, None)
        _write_cache(self.settings, self._cache)


def cached_entries(settings: Settings) -> dict[str, Entry]:
    """The entries by file name, as this host last read them (its local copy; no store call)."""
    return {e["entry"]["name"]: Entry.from_dict(e["entry"]) for e in _read_cache(settings).values()}


def shipped_days(settings: Settings) -> set[date]:
    """Days whose every local event file is shipped as it is now, by the local copy of the manifest
    (no store call): what raw-log retention may delete when shipping is on."""
    entries = cached_entries(settings)
    by_day: dict[date, bool] = {}
    for lf in list_log_files(settings.log_dir, "events"):
        entry = entries.get(lf.name)
        by_day[lf.day] = by_day.get(lf.day, True) and entry is not None and entry.matches(lf)
    return {day for day, ok in by_day.items() if ok}
