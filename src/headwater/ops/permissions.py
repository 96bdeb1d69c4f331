"""The data directory is private: its logs hold user ids and traits, its stores secrets (the admin
token, write keys). Headwater creates it 0700 and every file in it 0600 (the CLI's umask, cli/__init__);
this finds what an earlier version, a copy or a restore left open to other users, so that
``headwater serve`` can say so at start, once.

Only the top levels are looked at: the data directory, what is directly in it, and the first few
entries of each of its directories (a loose umask shows in the first file; a log directory of
millions of files is never walked).
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
from itertools import islice
from pathlib import Path

log = logging.getLogger("headwater.ops")

#: entries looked at in each directory under the data directory
ENTRIES_PER_DIR = 5
#: entries looked at directly in the data directory (admin_token, the SQLite store, log/, lake/ ...)
TOP_ENTRIES = 200
#: too-open paths named in the warning
NAMED = 3


def _open_to_others(mode: int) -> bool:
    return not stat.S_ISLNK(mode) and bool(mode & 0o077)


def _entries(directory: Path, limit: int) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return list(islice(it, limit))
    except OSError:  # gone, or not ours to read: nothing to say about it here
        return []


def _mode(entry: os.DirEntry[str]) -> int | None:
    try:
        return entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return None


def too_open(data_dir: Path, per_dir: int = ENTRIES_PER_DIR) -> list[Path]:
    """The paths of the data directory's top levels that grant group or others any access."""
    try:
        mode = os.lstat(data_dir).st_mode
    except OSError:
        return []  # not made yet: it will be made private
    if not stat.S_ISDIR(mode):
        return []
    found = [data_dir] if _open_to_others(mode) else []
    for entry in sorted(_entries(data_dir, TOP_ENTRIES), key=lambda e: e.name):
        mode_ = _mode(entry)
        if mode_ is None:
            continue
        if _open_to_others(mode_):
            found.append(Path(entry.path))
        if stat.S_ISDIR(mode_):
            found.extend(
                Path(sub.path)
                for sub in _entries(Path(entry.path), per_dir)
                if (m := _mode(sub)) is not None and _open_to_others(m)
            )
    return found


def describe(data_dir: Path, paths: list[Path]) -> str:
    """One line: how many paths are too open, the first few with their modes, and the fix."""
    named = []
    for path in paths[:NAMED]:
        try:
            named.append(f"{path} ({stat.S_IMODE(os.lstat(path).st_mode):04o})")
        except OSError:
            named.append(str(path))
    more = f" and {len(paths) - NAMED} more" if len(paths) > NAMED else ""
    return (
        f"{len(paths)} path{'' if len(paths) == 1 else 's'} of the data directory are open to other"
        f" users (they hold user ids, traits and secrets): {', '.join(named)}{more}."
        f" Fix: chmod -R go-rwx {shlex.quote(str(data_dir))}"
    )


def warn_if_too_open(data_dir: Path) -> list[Path]:
    """Log one warning line when the data directory's top levels are open to other users."""
    found = too_open(data_dir)
    if found:
        log.warning(
            describe(data_dir, found),
            extra={"too_open": len(found), "fix": f"chmod -R go-rwx {shlex.quote(str(data_dir))}"},
        )
    return found
