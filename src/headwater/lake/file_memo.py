"""Per-process answers about lake files that change only when the files do.

Every query of the lake used to work out again what the same files say (whether every person-day
file carries ``actor_hash``, the identity map's pairs as 64-bit hashes): a few milliseconds each,
eight times over when a dashboard's tiles are asked at once. Such an answer is kept under its
slot (one per kind of answer and lake) with the stats of the files it was read from, and read
again as soon as any of them differs: the ETL and a deletion write files anew (a new inode, size
or time), so a kept answer never outlives the files it describes. One answer per slot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_kept: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}


def files_state(paths: Iterable[Path]) -> tuple[Any, ...]:
    """(path, size, mtime, inode) of each file, None for one that does not exist."""
    out: list[Any] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            out.append((str(path), None))
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


def remembered(slot: Hashable, paths: Iterable[Path], compute: Callable[[], T]) -> T:
    """``compute()``, or what it gave last time for ``slot`` while ``paths`` are the same files.
    The state is taken before computing: a file changed meanwhile is read again next time."""
    state = files_state(paths)
    with _lock:
        found = _kept.get(slot)
    if found is not None and found[0] == state:
        value: T = found[1]
        return value
    value = compute()
    with _lock:
        _kept[slot] = (state, value)
    return value


def forget() -> None:
    """Drop every kept answer (tests)."""
    with _lock:
        _kept.clear()
