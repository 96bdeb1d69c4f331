"""The lake mirrored through the object store (docs/scale-out.md, "The lake"): the host that holds
the pipeline lease pushes the lake after each run; every other host pulls it, so any host's
dashboard, API and retention read the same lake, and a host that takes the lease over starts from
the last lake pushed.

Files are stored by content (``lake/objects/<md5>``), and an index (``lake/index.json``: the lake's
relative paths with their MD5 and size, and a generation) is written last: a push killed half way
leaves the previous index whole, and a reader only ever downloads objects named by an index it
read. Objects no index names any more are deleted after the new index is in place (a reader that
read the previous index a moment before finds an object gone and pulls again at its next turn).
Paths with a part starting with ``.`` (the ETL's lock and staging folder) are not mirrored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.stores.objects.ports import ObjectMissingError, ObjectStore, file_md5

INDEX = "lake/index.json"
OBJECTS = "lake/objects/"


@dataclass
class MirrorReport:
    generation: int = 0
    uploaded: int = 0
    downloaded: int = 0
    deleted: int = 0
    bytes: int = 0
    unchanged: bool = False
    files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Cache:
    """The MD5 of each lake file by (size, mtime), so unchanged files are not hashed again, and the
    generation this host last pushed or pulled."""

    path: Path
    generation: int = 0
    files: dict[str, list[Any]] = field(default_factory=dict)  # rel -> [size, mtime_ns, md5]

    @classmethod
    def load(cls, path: Path) -> _Cache:
        try:
            data = json.loads(path.read_text())
            return cls(path, int(data["generation"]), dict(data["files"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path)

    def save(self) -> None:
        write_atomic(self.path, json.dumps({"generation": self.generation, "files": self.files}).encode())

    def md5(self, root: Path, rel: str) -> str:
        return self.sized_md5(root, rel)[1]

    def sized_md5(self, root: Path, rel: str) -> tuple[int, str]:
        """(size, MD5) of a file, from one stat of it."""
        st = (root / rel).stat()
        known = self.files.get(rel)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return st.st_size, str(known[2])
        digest = file_md5(root / rel)
        self.files[rel] = [st.st_size, st.st_mtime_ns, digest]
        return st.st_size, digest


def local_files(root: Path) -> list[str]:
    """The lake's mirrored files, as paths relative to its root."""
    if not root.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                out.append(str((Path(dirpath) / name).relative_to(root)))
    return sorted(out)


def read_index(store: ObjectStore) -> dict[str, Any] | None:
    try:
        index: dict[str, Any] = json.loads(store.get_bytes(INDEX))
    except ObjectMissingError:
        return None
    return index


def push(
    root: Path,
    store: ObjectStore,
    cache_path: Path,
    holder: str,
    still_held: Callable[[], bool] = lambda: True,
) -> MirrorReport:
    """Upload what changed in the local lake and publish it as the next generation. Stops before
    publishing when ``still_held`` turns False (the lease was lost: another host owns the lake)."""
    cache = _Cache.load(cache_path)
    previous = read_index(store) or {"generation": 0, "files": {}}
    present = {info.key.removeprefix(OBJECTS) for info in store.list(OBJECTS)}
    files: dict[str, dict[str, Any]] = {}
    report = MirrorReport()
    for rel in local_files(root):
        try:
            size, digest = cache.sized_md5(root, rel)
        except FileNotFoundError:  # removed while listed
            continue
        files[rel] = {"md5": digest, "size": size}
        if digest not in present:
            store.put_file(OBJECTS + digest, root / rel, digest)
            present.add(digest)
            report.uploaded += 1
            report.bytes += size
    report.files = len(files)
    cache.files = {rel: v for rel, v in cache.files.items() if rel in files}
    if files == previous.get("files"):
        report.generation, report.unchanged = int(previous["generation"]), True
        cache.generation = report.generation
        cache.save()
        return report
    if not still_held():
        raise LeaseLostError("the pipeline lease was lost before the lake was published; nothing published")
    report.generation = int(previous["generation"]) + 1
    index = {
        "generation": report.generation,
        "pushed_at": datetime.now(UTC).isoformat(),
        "holder": holder,
        "files": files,
    }
    store.put_bytes(INDEX, json.dumps(index, sort_keys=True).encode())
    cache.generation = report.generation
    cache.save()
    referenced = {f["md5"] for f in files.values()}
    for digest in sorted(present - referenced):
        report.deleted += int(store.delete(OBJECTS + digest))
    return report


def pull(root: Path, store: ObjectStore, cache_path: Path) -> MirrorReport:
    """Make the local lake the last generation pushed: download what differs (each file written whole
    and renamed into place), delete what the index no longer names. Nothing changes when no index
    was ever pushed."""
    cache = _Cache.load(cache_path)
    index = read_index(store)
    report = MirrorReport()
    if index is None:
        report.unchanged = True
        return report
    report.generation, files = int(index["generation"]), dict(index["files"])
    report.files = len(files)
    for rel, want in sorted(files.items()):
        target = root / rel
        try:
            if target.exists() and cache.md5(root, rel) == want["md5"]:
                continue
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.pull")
        store.get_file(OBJECTS + str(want["md5"]), part)
        os.replace(part, target)
        cache.md5(root, rel)
        report.downloaded += 1
        report.bytes += int(want["size"])
    for rel in local_files(root):
        if rel not in files:
            (root / rel).unlink(missing_ok=True)
            cache.files.pop(rel, None)
            report.deleted += 1
    report.unchanged = not (report.downloaded or report.deleted)
    cache.generation = report.generation
    cache.save()
    return report


def pulled_generation(cache_path: Path) -> int:
    return _Cache.load(cache_path).generation


class LeaseLostError(RuntimeError):
    """The job's lease went to another host while it ran."""
