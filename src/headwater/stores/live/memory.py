"""``memory://``: the live store inside one process (embedded profile, a single worker).

Distinct sets are kept exactly (no HyperLogLog); expiry is checked when a key is read or
written, plus a sweep of expired keys every few thousand writes, so memory stays bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from headwater.stores.live.base import LiveCheckpoint, LiveConflictError, LiveDelta

_SWEEP_EVERY = 2_000


class MemoryLiveStore:
    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._checkpoints: dict[str, LiveCheckpoint] = {}
        self._counters: dict[str, dict[str, int]] = {}
        self._distinct: dict[str, set[str]] = {}
        self._expire: dict[str, float] = {}
        self._sticky: dict[str, dict[str, str]] = {}
        self._sticky_expire: dict[str, float] = {}
        self._members: dict[str, set[str]] = {}  # audience -> users
        self._audiences: dict[str, set[str]] = {}  # user -> audiences
        self._writes = 0

    def ping(self) -> None:
        return None

    # -- checkpoint and counters --------------------------------------------------------------
    def load_checkpoint(self, tailer: str) -> LiveCheckpoint | None:
        with self._lock:
            cp = self._checkpoints.get(tailer)
            return None if cp is None else LiveCheckpoint(cp.epoch, dict(cp.offsets))

    def init_checkpoint(self, tailer: str, offsets: Mapping[str, int], epoch: str) -> LiveCheckpoint:
        with self._lock:
            cp = self._checkpoints.setdefault(tailer, LiveCheckpoint(epoch, dict(offsets)))
            return LiveCheckpoint(cp.epoch, dict(cp.offsets))

    def apply(
        self, tailer: str, epoch: str, base: Mapping[str, int], new: Mapping[str, int], delta: LiveDelta
    ) -> None:
        with self._lock:
            cp = self._checkpoints.get(tailer)
            if cp is None or cp.epoch != epoch:
                raise LiveConflictError(f"tailer {tailer!r}: the live store's epoch changed (store reset)")
            for file, offset in base.items():
                if cp.offsets.get(file, 0) != offset:
                    raise LiveConflictError(
                        f"tailer {tailer!r}: {file} is at {cp.offsets.get(file, 0)}, not {offset}"
                    )
            now = time.time()
            for name, row in delta.counters.items():
                self._live(name, now)
                stored = self._counters.setdefault(name, {})
                for key, n in row.items():
                    stored[key] = stored.get(key, 0) + n
                self._expire[name] = delta.expire_at[name]
            for name, members in delta.distinct.items():
                self._live(name, now)
                self._distinct.setdefault(name, set()).update(members)
                self._expire[name] = delta.expire_at[name]
            cp.offsets.update(new)
            self._writes += 1
            if self._writes % _SWEEP_EVERY == 0:
                self._sweep(now)

    def reset(self, tailer: str) -> None:
        with self._lock:
            self._checkpoints.pop(tailer, None)
            self._counters.clear()
            self._distinct.clear()
            self._expire.clear()

    def _live(self, name: str, now: float) -> bool:
        """Drop ``name`` if it expired; whether it exists."""
        at = self._expire.get(name)
        if at is not None and at <= now:
            self._counters.pop(name, None)
            self._distinct.pop(name, None)
            del self._expire[name]
            return False
        return name in self._counters or name in self._distinct

    def _sweep(self, now: float) -> None:
        for name in [n for n, at in self._expire.items() if at <= now]:
            self._live(name, now)

    def union_count(self, names: Sequence[str]) -> int:
        with self._lock:
            now = time.time()
            sets = [self._distinct[n] for n in names if self._live(n, now) and n in self._distinct]
            if len(sets) == 1:
                return len(sets[0])
            return len(set().union(*sets)) if sets else 0

    def counts(self, names: Sequence[str]) -> list[int]:
        with self._lock:
            now = time.time()
            return [len(self._distinct.get(n, ())) if self._live(n, now) else 0 for n in names]

    def counter(self, name: str) -> dict[str, int]:
        with self._lock:
            return dict(self._counters.get(name, {})) if self._live(name, time.time()) else {}

    # -- async reads (the API): in-process, so no waiting ---------------------------------------
    async def aunion_count(self, names: Sequence[str]) -> int:
        return self.union_count(names)

    async def acounts(self, names: Sequence[str]) -> list[int]:
        return self.counts(names)

    async def acounter(self, name: str) -> dict[str, int]:
        return self.counter(name)

    async def aclose(self) -> None:
        return None

    # -- sticky buckets -------------------------------------------------------------------------
    def get_sticky(self, key: str) -> dict[str, str]:
        with self._lock:
            at = self._sticky_expire.get(key)
            if at is not None and at <= time.time():
                self._sticky.pop(key, None)
                del self._sticky_expire[key]
            return dict(self._sticky.get(key, {}))

    def save_sticky(self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        with self._lock:
            self._sticky.setdefault(key, {}).update(assignments)
            if ttl_seconds is None:
                self._sticky_expire.pop(key, None)
            else:
                self._sticky_expire[key] = time.time() + ttl_seconds

    async def aget_sticky(self, key: str) -> dict[str, str]:
        return self.get_sticky(key)

    async def asave_sticky(
        self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None
    ) -> None:
        self.save_sticky(key, assignments, ttl_seconds)

    # -- audience membership ------------------------------------------------------------------
    def add_members(self, audience: str, users: Iterable[str]) -> None:
        with self._lock:
            members = self._members.setdefault(audience, set())
            for user in users:
                members.add(user)
                self._audiences.setdefault(user, set()).add(audience)

    def remove_members(self, audience: str, users: Iterable[str]) -> None:
        with self._lock:
            members = self._members.get(audience, set())
            for user in users:
                members.discard(user)
                of_user = self._audiences.get(user)
                if of_user is not None:
                    of_user.discard(audience)
                    if not of_user:
                        del self._audiences[user]

    def audiences_of(self, user: str) -> set[str]:
        with self._lock:
            return set(self._audiences.get(user, ()))

    def audience_size(self, audience: str) -> int:
        with self._lock:
            return len(self._members.get(audience, ()))

    def audience_members(self, audience: str) -> set[str]:
        with self._lock:
            return set(self._members.get(audience, ()))

    def close(self) -> None:
        return None
