"""A deletion reaches the shipped copies of the log (docs/privacy.md, docs/scale-out.md).

Every object of the manifest (any host's) is erased as the local files are: the person's lines
blanked in place (same length, so the file keeps its size), then put back, verified by checksum,
and its manifest entry updated. A file this host still has was erased by the log step already: its
copy is replaced by it when they differ. A copy whose local file is gone (raw-log retention after
shipping) is downloaded into ``run/``, erased there, put back, and the download removed. Objects
that hold nothing of the person are not rewritten. Idempotent: a second run rewrites nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from headwater.config import Settings
from headwater.log.erase_file import erase_file
from headwater.log.erase_match import Matcher
from headwater.shipping.manifest import Manifest
from headwater.shipping.parts import as_whole, download, drop_parts
from headwater.shipping.service import open_store
from headwater.stores.objects.ports import file_md5


def erase_shipped(settings: Settings, ids: list[str]) -> dict[str, Any] | None:
    """The person's lines out of every shipped copy; None when no object store is configured."""
    if not settings.object_store_url:
        return None
    store = open_store(settings)
    try:
        manifest = Manifest(store, settings).load()
        matcher = Matcher(ids)
        rewritten = erased_lines = checked = 0
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        for entry in sorted(manifest.entries.values(), key=lambda e: e.key):
            checked += 1
            local = settings.log_dir / entry.name
            with tempfile.TemporaryDirectory(dir=settings.run_dir, prefix="erase-shipped-") as tmp:
                if local.is_file():  # erased by the log step: the copy becomes it, when they differ
                    source, md5 = local, file_md5(local)
                    if md5 == entry.md5:
                        continue
                    mtime_ns = local.stat().st_mtime_ns
                else:
                    source = Path(tmp) / entry.name
                    download(store, entry, source)  # its object, or its parts (a day still open)
                    _, erased = erase_file(source, entry.kind, matcher)
                    if not erased:
                        continue
                    erased_lines += erased
                    md5, mtime_ns = file_md5(source), entry.mtime_ns
                # one object again (a file shipped in hourly parts too: its next parts follow it)
                info = store.put_file(entry.key, source, md5)
                manifest.record(as_whole(entry, md5, source.stat().st_size, mtime_ns, info.version))
                drop_parts(store, entry, entry.key)
                rewritten += 1
        return {"objects_checked": checked, "objects_rewritten": rewritten, "lines_erased": erased_lines}
    finally:
        store.close()
