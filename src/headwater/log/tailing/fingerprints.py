"""An exact set of 64-bit fingerprints that stays small in memory as it grows.

A tailer keeps fingerprints (``hash()`` of a message id or an actor: 64-bit, salted per process,
never stored) rather than the strings: 8 bytes a member instead of ~100. Python's own set costs
~40 bytes a member; numpy a sorted ``int64`` array costs 8 but an insert copies it. So a set
holds its members in a Python set until it reaches :data:`COMPACT_AT`, then in a sorted array
(``base``) plus a Python set of the members added since (``recent``) and of those removed since
(``removed``), merged into the array whenever they grow past an eighth of it: inserts stay cheap
and a large set costs ~9 bytes a member.

Exactness: two different strings with one fingerprint count once. With ``n`` members the odds of
any such collision are about n²/2⁶⁵: 3 in 100 million at a million members (docs/live.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress

import numpy as np
import numpy.typing as npt

COMPACT_AT = 256  # members from which a set keeps a sorted array
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_EMPTY: Int64Array = np.empty(0, dtype=np.int64)


class FingerprintSet:
    __slots__ = ("base", "recent", "removed")

    def __init__(self) -> None:
        self.base: Int64Array = _EMPTY
        self.recent: set[int] = set()
        self.removed: set[int] = set()

    def __len__(self) -> int:
        return len(self.base) - len(self.removed) + len(self.recent)

    def __contains__(self, fp: int) -> bool:
        if fp in self.recent:
            return True
        if fp in self.removed or not len(self.base):
            return False
        i = int(np.searchsorted(self.base, fp))
        return i < len(self.base) and int(self.base[i]) == fp

    def contains_many(self, fps: Int64Array) -> BoolArray:
        """Membership of each fingerprint (vectorised: one pass over the batch)."""
        found = _in_sorted(self.base, fps) if len(self.base) else np.zeros(len(fps), dtype=bool)
        recent, removed = self.recent, self.removed
        if recent or removed:
            values = fps.tolist()
            if removed:
                found &= np.array([fp not in removed for fp in values], dtype=bool)
            if recent:
                found |= np.array([fp in recent for fp in values], dtype=bool)
        return found

    def add_all(self, fps: Iterable[int]) -> int:
        """Add members; the number that were not members yet."""
        before = len(self)
        if not len(self.base):
            self.recent.update(fps)
            if len(self.recent) >= COMPACT_AT:
                self._compact()
            return len(self) - before
        base = self.base
        fresh = list((fps if isinstance(fps, set) else set(fps)) - self.recent)  # C-level
        if not fresh:
            return 0
        found = _in_sorted(base, np.fromiter(fresh, dtype=np.int64, count=len(fresh)))
        self.recent.update(compress(fresh, (~found).tolist()))
        removed = self.removed
        if removed:  # members of base removed before, now back
            removed.difference_update(compress(fresh, found.tolist()))
        if len(self.recent) + len(self.removed) > max(COMPACT_AT, len(base) // 8):
            self._compact()
        return len(self) - before

    def add_absent(self, fps: list[int]) -> None:
        """Add fingerprints known not to be members (just checked with :meth:`contains_many`)."""
        removed = self.removed
        if removed and not removed.isdisjoint(fps):
            back = removed.intersection(fps)  # in base, removed, now back
            removed.difference_update(back)
            fps = [fp for fp in fps if fp not in back]
        self.recent.update(fps)
        if len(self.recent) + len(removed) > max(COMPACT_AT, len(self.base) // 8):
            self._compact()

    def discard(self, fp: int) -> bool:
        """Remove a member; whether it was one."""
        if fp in self.recent:
            self.recent.discard(fp)
            return True
        if fp in self:
            self.removed.add(fp)
            return True
        return False

    def discard_all(self, fps: Int64Array) -> None:
        """Remove these (members or not)."""
        if self.recent:
            self.recent.difference_update(fps.tolist())
        if len(self.base):
            self.removed.update(fps[_in_sorted(self.base, fps)].tolist())
            if len(self.removed) > max(COMPACT_AT, len(self.base) // 8):
                self._compact()

    def _compact(self) -> None:
        base = self.base
        if self.removed:
            gone = np.fromiter(self.removed, dtype=np.int64, count=len(self.removed))
            base = base[~np.isin(base, gone, assume_unique=True)]
        if self.recent:  # never members of base: a concatenation, then one sort
            added = np.fromiter(self.recent, dtype=np.int64, count=len(self.recent))
            base = np.concatenate([base, added])
            base.sort(kind="stable")
        self.base, self.recent, self.removed = base, set(), set()

    def nbytes(self) -> int:
        """About the memory this set holds (the array, and ~40 bytes a member of the Python sets)."""
        return int(self.base.nbytes) + 40 * (len(self.recent) + len(self.removed))


def _in_sorted(base: Int64Array, wanted: Int64Array) -> BoolArray:
    at = np.searchsorted(base, wanted)
    inside = at < len(base)
    found = np.zeros(len(wanted), dtype=bool)
    found[inside] = base[at[inside]] == wanted[inside]
    return found
