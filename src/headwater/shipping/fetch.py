"""Reading shipped files back: every host's files of a day, from the store into a local staging
folder, each checked against its manifest entry (the start of issue 21's item 2: the daily ETL
over all hosts' logs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from headwater.config import Settings
from headwater.log.files import LogKind
from headwater.shipping.manifest import Manifest
from headwater.shipping.parts import download
from headwater.stores.objects.ports import ObjectStore, file_md5


def fetch_day(
    settings: Settings, store: ObjectStore, day: date, dest: Path, kind: LogKind = "events"
) -> list[Path]:
    """Download every shipped file of ``kind`` and UTC ``day`` (all hosts, all writers) into
    ``dest`` under its own name; a file already there with the entry's MD5 is not fetched again.
    ChecksumMismatchError when an object is not what its entry says (nothing is left half-written)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    entries = Manifest(store, settings).load().entries
    for entry in sorted(entries.values(), key=lambda e: e.name):
        if entry.kind != kind or entry.day != day.isoformat():
            continue
        target = dest / entry.name
        if not (target.exists() and file_md5(target) == entry.md5):
            download(store, entry, target)  # its object, or its parts (a day still open)
        out.append(target)
    return out
