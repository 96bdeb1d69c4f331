"""The shipped copies follow the same retention as the files they copy (docs/scale-out.md, "When
shipped copies are deleted"): once a host's local file has left its disk, its copy in the bucket
is deleted when the same rule would delete the local file now (raw-log retention for events: old
enough, loaded into the lake as it is, its months archived, exported; the quarantine's age, or its
own retention when HEADWATER_QUARANTINE_RETENTION_DAYS is shorter). The
manifest entry goes first, then the object, so no entry ever names an object that is gone; a
failure is reported and tried again at the next run. Each host expires only what it shipped."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from headwater.batch.holds import Hold
from headwater.config import Settings
from headwater.log.files import list_log_files
from headwater.shipping.manifest import Entry, Manifest, host_name
from headwater.shipping.rules import keep_reason
from headwater.stores.objects.ports import ObjectStore, ObjectStoreError


def expire_shipped(
    settings: Settings,
    store: ObjectStore,
    manifest: Manifest,
    now: datetime,
    still_needed: Hold | None,
    dry_run: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """Delete the copies whose local files are gone and whose retention is over: (names, errors)."""
    local = {
        lf.name
        for kind in ("events", "quarantine", "decisions")
        for lf in list_log_files(settings.log_dir, kind)
    }
    expired: list[str] = []
    errors: dict[str, str] = {}
    mine = [e for e in manifest.entries.values() if e.host == host_name() and e.name not in local]
    for entry in sorted(mine, key=lambda e: e.name):
        day = date.fromisoformat(entry.day)
        if keep_reason(settings, entry.kind, day, now, still_needed) is not None and not _quarantine_over(
            settings, entry.kind, day, now
        ):
            continue
        if dry_run:
            expired.append(entry.name)
            continue
        try:
            _expire(store, manifest, entry)
        except ObjectStoreError as exc:
            errors[entry.name] = f"the shipped copy was not deleted (tried again next run): {exc}"
            continue
        expired.append(entry.name)
    return expired, errors


def _quarantine_over(settings: Settings, kind: str, day: date, now: datetime) -> bool:
    """The quarantine's own retention (HEADWATER_QUARANTINE_RETENTION_DAYS) is over for this day."""
    keep = settings.quarantine_retention_days
    return kind == "quarantine" and keep is not None and day < now.date() - timedelta(days=keep)


def _expire(store: ObjectStore, manifest: Manifest, entry: Entry) -> None:
    manifest.forget(entry)  # the entry first: none names an object that is gone
    for key in entry.keys:
        store.delete(key)
