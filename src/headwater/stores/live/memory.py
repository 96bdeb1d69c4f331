"""``memory://``: the live store inside one process (embedded profile, a single worker).

One :class:`MemoryState` per backend object holds everything; the four ports are views over it, so
the tailer, the API, experiments and audiences of a server share it when the runtime hands them the
same backend. Expiry is checked when a key is read or written, plus a sweep of expired keys every
few thousand writes, so memory stays bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence

from headwater.events.identity import person_ids
from headwater.stores.live.namespace import split_namespace
from headwater.stores.live.ports import (
    LiveCheckpoint,
    LiveConflictError,
    LiveDelta,
    Stamps,
    StoreOptions,
    person_keys,
)
from headwater.urls import mask_url

_SWEEP_EVERY = 2_000


class MemoryState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checkpoints: dict[str, LiveCheckpoint] = {}
        self.counters: dict[str, dict[str, int]] = {}  # every hash of numbers, added to or set
        self.expire: dict[str, float] = {}
        self.sticky: dict[str, dict[str, str]] = {}
        self.sticky_expire: dict[str, float] = {}
        self.members: dict[str, set[str]] = {}  # audience -> users
        self.audiences: dict[str, set[str]] = {}  # user -> audiences
        self.ids: dict[str, str] = {}  # id value -> user
        self.sticky_restored = False  # an in-process store starts empty: restored from the log first
        self.restoring = False
        self.stamps: dict[tuple[str, str], dict[str, int]] = {}  # (user, condition) -> {message id: ms}
        self.writes = 0


class MemoryCounters:
    def __init__(self, state: MemoryState, url: str) -> None:
        self.url = url
        self.state = state

    def ping(self) -> None:
        return None

    def load_checkpoint(self, tailer: str) -> LiveCheckpoint | None:
        with self.state.lock:
            cp = self.state.checkpoints.get(tailer)
            return None if cp is None else LiveCheckpoint(cp.epoch, dict(cp.offsets))

    def init_checkpoint(self, tailer: str, offsets: Mapping[str, int], epoch: str) -> LiveCheckpoint:
        with self.state.lock:
            cp = self.state.checkpoints.setdefault(tailer, LiveCheckpoint(epoch, dict(offsets)))
            return LiveCheckpoint(cp.epoch, dict(cp.offsets))

    def apply(
        self, tailer: str, epoch: str, base: Mapping[str, int], new: Mapping[str, int], delta: LiveDelta
    ) -> None:
        st = self.state
        with st.lock:
            cp = st.checkpoints.get(tailer)
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
                stored = st.counters.setdefault(name, {})
                for key, n in row.items():
                    stored[key] = stored.get(key, 0) + n
                st.expire[name] = delta.expire_at[name]
            for name, values in delta.values.items():
                self._live(name, now)
                st.counters.setdefault(name, {}).update(values)
                st.expire[name] = delta.expire_at[name]
            cp.offsets.update(new)
            st.writes += 1
            if st.writes % _SWEEP_EVERY == 0:
                for expired in [n for n, at in st.expire.items() if at <= now]:
                    self._live(expired, now)

    def replace(
        self, tailer: str, epoch: str, offsets: Mapping[str, int], delta: LiveDelta, forget: Sequence[str]
    ) -> None:
        st = self.state
        with st.lock:
            for name in forget:
                st.counters.pop(name, None)
                st.expire.pop(name, None)
            for rows in (delta.counters, delta.values):
                for name, row in rows.items():
                    st.counters.setdefault(name, {}).update(row)
                    st.expire[name] = delta.expire_at[name]
            st.checkpoints[tailer] = LiveCheckpoint(epoch, dict(offsets))

    def reset(self, tailer: str) -> None:
        st = self.state
        with st.lock:
            st.checkpoints.pop(tailer, None)
            st.counters.clear()
            st.expire.clear()

    def forget_checkpoint(self, tailer: str) -> None:
        with self.state.lock:
            self.state.checkpoints.pop(tailer, None)

    def forget(self, ids: Collection[str]) -> int:
        """Numbers only here (ports.Counters.forget): nothing to remove."""
        return 0

    def _live(self, name: str, now: float) -> bool:
        """Drop ``name`` if it expired; whether it exists (the caller holds the lock)."""
        st = self.state
        at = st.expire.get(name)
        if at is not None and at <= now:
            st.counters.pop(name, None)
            del st.expire[name]
            return False
        return name in st.counters

    def hashes(self, names: Sequence[str]) -> list[dict[str, int]]:
        st = self.state
        with st.lock:
            now = time.time()
            return [dict(st.counters[n]) if self._live(n, now) else {} for n in names]

    def window_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int:
        st = self.state
        total = 0
        with st.lock:
            now = time.time()
            for name, lo, hi in ranges:
                if self._live(name, now):
                    total += sum(n for f, n in st.counters[name].items() if lo <= int(f) <= hi)
        return total

    # in-process: the awaited reads answer at once
    async def ahashes(self, names: Sequence[str]) -> list[dict[str, int]]:
        return self.hashes(names)

    async def awindow_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int:
        return self.window_sum(ranges)

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryStickyBuckets:
    def __init__(self, state: MemoryState, url: str) -> None:
        self.url = url
        self.state = state

    def get(self, key: str) -> dict[str, str]:
        st = self.state
        with st.lock:
            at = st.sticky_expire.get(key)
            if at is not None and at <= time.time():
                st.sticky.pop(key, None)
                del st.sticky_expire[key]
            return dict(st.sticky.get(key, {}))

    def save(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        st = self.state
        with st.lock:
            st.sticky.setdefault(key, {}).update(fields)
            if ttl_seconds is None:
                st.sticky_expire.pop(key, None)
            else:
                st.sticky_expire[key] = time.time() + ttl_seconds

    async def aget(self, key: str) -> dict[str, str]:
        return self.get(key)

    async def asave(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        self.save(key, fields, ttl_seconds)

    async def aget_verified(self, key: str) -> dict[str, str] | None:
        return self.get(key) if self.state.sticky_restored else None

    def restore(self, documents: Mapping[str, Mapping[str, str]], ttl_seconds: int | None = None) -> int:
        st = self.state
        written = 0
        with st.lock:
            for key, fields in documents.items():
                doc = st.sticky.setdefault(key, {})
                for name, value in fields.items():
                    if name not in doc:
                        doc[name] = value
                        written += 1
                if ttl_seconds is not None and key not in st.sticky_expire:
                    st.sticky_expire[key] = time.time() + ttl_seconds
        return written

    def mark_restored(self) -> None:
        self.state.sticky_restored = True

    def restored(self) -> bool:
        return self.state.sticky_restored

    def lock_restore(self, seconds: float) -> bool:
        with self.state.lock:
            if self.state.restoring:
                return False
            self.state.restoring = True
            return True

    def unlock_restore(self) -> None:
        self.state.restoring = False

    def forget(self, ids: Collection[str]) -> int:
        values = person_ids(ids)
        st = self.state
        with st.lock:
            doomed = [k for k in st.sticky if k.partition("||")[2] in values]
            for key in doomed:
                del st.sticky[key]
                st.sticky_expire.pop(key, None)
        return len(doomed)

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryIdMap:
    def __init__(self, state: MemoryState, url: str) -> None:
        self.url = url
        self.state = state

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        with self.state.lock:
            self.state.ids.update(pairs)

    def resolve(self, values: Sequence[str]) -> str | None:
        ids = self.state.ids  # a read of a dict the GIL keeps whole: no lock on the enrichment path
        for value in values:
            user = ids.get(value)
            if user is not None:
                return user
        return None

    def reset(self) -> None:
        with self.state.lock:
            self.state.ids = {}

    def forget(self, ids: Collection[str]) -> int:
        keys = person_keys(ids)
        with self.state.lock:
            kept = {v: u for v, u in self.state.ids.items() if v not in keys and u not in keys}
            removed = len(self.state.ids) - len(kept)
            self.state.ids = kept  # a new dict: the enrichment reads the map without the lock
        return removed

    def close(self) -> None:
        return None


class MemoryMembership:
    def __init__(self, state: MemoryState, url: str) -> None:
        self.url = url
        self.state = state
        self._ids = MemoryIdMap(state, url)

    def add_members(self, audience: str, users: Iterable[str]) -> None:
        st = self.state
        with st.lock:
            members = st.members.setdefault(audience, set())
            for user in users:
                members.add(user)
                st.audiences.setdefault(user, set()).add(audience)

    def remove_members(self, audience: str, users: Iterable[str]) -> None:
        st = self.state
        with st.lock:
            members = st.members.get(audience, set())
            for user in users:
                members.discard(user)
                of_user = st.audiences.get(user)
                if of_user is not None:
                    of_user.discard(audience)
                    if not of_user:
                        del st.audiences[user]

    def audiences_of(self, user: str) -> set[str]:
        with self.state.lock:
            return set(self.state.audiences.get(user, ()))

    def memberships(self, users: Sequence[str]) -> dict[str, set[str]]:
        with self.state.lock:
            return {u: set(self.state.audiences.get(u, ())) for u in users}

    def audience_size(self, audience: str) -> int:
        with self.state.lock:
            return len(self.state.members.get(audience, ()))

    def audience_members(self, audience: str) -> set[str]:
        with self.state.lock:
            return set(self.state.members.get(audience, ()))

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        st = self.state
        with st.lock:
            for user, stamps in by_user.items():
                for cond, new in stamps.items():
                    held = st.stamps.setdefault((user, cond), {})
                    held.update(new)
                    limit = keep.get(cond, 1)
                    if len(held) > limit:
                        ordered = sorted(held.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
                        st.stamps[(user, cond)] = dict(ordered[:limit])

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        st = self.state
        with st.lock:
            out: dict[str, dict[str, list[int]]] = {}
            for user in users:
                row = out[user] = {}
                for cond in conditions:
                    held = st.stamps.get((user, cond))
                    if held:
                        row[cond] = list(held.values())
            return out

    async def lookup(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        user = self._ids.resolve(values)
        if user is None:
            return None
        return user, self.audiences_of(user)

    def reset(self) -> None:
        st = self.state
        with st.lock:
            st.members.clear()
            st.audiences.clear()
            st.stamps.clear()

    def forget(self, ids: Collection[str]) -> int:
        """Counted as on Redis: a user's key (audiences and stamps) is one, each set member one."""
        keys = person_keys(ids)
        st = self.state
        with st.lock:
            stamped = [k for k in st.stamps if k[0] in keys]
            owners = {user for user, _ in stamped}
            for k in stamped:
                del st.stamps[k]
            owners.update(user for user in keys if st.audiences.pop(user, None))
            removed = len(owners)
            for members in st.members.values():
                removed += len(members & keys)
                members -= keys
        return removed

    def format_current(self) -> bool:
        return True  # made by this very process

    def mark_format(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryBackend:
    """Every port over one in-process state (the namespace names a separate state per URL)."""

    def __init__(self, url: str) -> None:
        split_namespace(url)  # a bad namespace is refused here, as on Redis
        self.url = mask_url(url)
        self.state = MemoryState()

    def counters(self, options: StoreOptions) -> MemoryCounters:
        return MemoryCounters(self.state, self.url)

    def sticky_buckets(self, options: StoreOptions) -> MemoryStickyBuckets:
        return MemoryStickyBuckets(self.state, self.url)

    def id_map(self, options: StoreOptions) -> MemoryIdMap:
        return MemoryIdMap(self.state, self.url)

    def membership(self, options: StoreOptions) -> MemoryMembership:
        return MemoryMembership(self.state, self.url)


def open_backend(url: str) -> MemoryBackend:
    return MemoryBackend(url)
