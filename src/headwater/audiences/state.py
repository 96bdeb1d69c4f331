"""Audience state in the live store, beside the membership sets the live store already has.

Two more primitives than :class:`headwater.stores.live.LiveStore` offers, kept here so the live
store's own modules stay untouched: the **id map** (an advertising id, buyer uid, eid value or
user id -> our user) and each user's **stamps** (per condition, the latest matching event times,
see headwater.targeting.membership). Membership itself goes through the LiveStore
(``add_members`` / ``remove_members`` / ``audiences_of``). On Redis every key of a user carries
the hash tag ``{user}`` (an id map entry: ``{value}``), so a Redis Cluster spreads them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from headwater.stores.live import LiveStore

Stamps = dict[str, dict[str, int]]  # condition key -> {message id: ms}


class AudienceState(Protocol):
    store: LiveStore

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        """id value -> user (the latest mapping wins)."""
        ...

    def resolve(self, values: Sequence[str]) -> str | None:
        """The user of the first mapped value, in order."""
        ...

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        """Add stamps (idempotent: keyed by message id), keeping the ``keep[cond]`` latest."""
        ...

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        """user -> condition -> stamps (ms), for these conditions only."""
        ...

    def members(self, audience: str) -> set[str]:
        """Every member of an audience (for the nightly reconciliation)."""
        ...


class MemoryAudienceState:
    """``memory://``: beside the in-process MemoryLiveStore of the same URL (one per process)."""

    def __init__(self, store: LiveStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self._stamps: dict[tuple[str, str], dict[str, int]] = {}

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        with self._lock:
            self._ids.update(pairs)

    def resolve(self, values: Sequence[str]) -> str | None:
        ids = self._ids
        for value in values:
            user = ids.get(value)
            if user is not None:
                return user
        return None

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        with self._lock:
            for user, stamps in by_user.items():
                for cond, new in stamps.items():
                    held = self._stamps.setdefault((user, cond), {})
                    held.update(new)
                    limit = keep.get(cond, 1)
                    if len(held) > limit:
                        ordered = sorted(held.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
                        self._stamps[(user, cond)] = dict(ordered[:limit])

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        with self._lock:
            out: dict[str, dict[str, list[int]]] = {}
            for user in users:
                row = out[user] = {}
                for cond in conditions:
                    held = self._stamps.get((user, cond))
                    if held:
                        row[cond] = list(held.values())
            return out

    def members(self, audience: str) -> set[str]:
        return self.store.audience_members(audience)


class RedisAudienceState:
    """``redis://`` / ``redis+cluster://``: through the RedisLiveStore's own client and error mapping."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.ns: str = store.namespace

    def id_key(self, value: str) -> str:
        return f"{self.ns}:hid:{{{value}}}"

    def stamp_key(self, user: str, cond: str) -> str:
        return f"{self.ns}:aev:{{{user}}}:{cond}"

    def _pipelined(self, what: str, commands: Iterable[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        todo = list(commands)

        def run(c: Any) -> list[Any]:
            out: list[Any] = []
            for i in range(0, len(todo), 2000):
                pipe = c.pipeline(transaction=False)
                for name, args in todo[i : i + 2000]:
                    getattr(pipe, name)(*args)
                out.extend(pipe.execute())
            return out

        return list(self.store.run(what, run)) if todo else []

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        self._pipelined("map ids", (("set", (self.id_key(v), u)) for v, u in pairs.items()))

    def resolve(self, values: Sequence[str]) -> str | None:
        found = self._pipelined("resolve ids", (("get", (self.id_key(v),)) for v in values))
        return next((u for u in found if u is not None), None)

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        commands: list[tuple[str, tuple[Any, ...]]] = []
        for user, stamps in by_user.items():
            for cond, new in stamps.items():
                key = self.stamp_key(user, cond)
                commands.append(("zadd", (key, dict(new))))
                commands.append(("zremrangebyrank", (key, 0, -keep.get(cond, 1) - 1)))
        self._pipelined("add stamps", commands)

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        pairs = [(u, c) for u in users for c in conditions]
        found = self._pipelined(
            "read stamps", (("zrange", (self.stamp_key(u, c), 0, -1, False, True)) for u, c in pairs)
        )
        out: dict[str, dict[str, list[int]]] = {u: {} for u in users}
        for (user, cond), rows in zip(pairs, found, strict=True):
            if rows:
                out[user][cond] = [int(score) for _, score in rows]
        return out

    def memberships(self, users: Sequence[str]) -> dict[str, set[str]]:
        found = self._pipelined("read memberships", (("smembers", (self.store.user_key(u),)) for u in users))
        return {u: set(m) for u, m in zip(users, found, strict=True)}

    def members(self, audience: str) -> set[str]:
        return set(self.store.audience_members(audience))


def open_state(store: LiveStore) -> AudienceState:
    """The audience state beside a live store (the same in-process one for the same memory:// URL)."""
    if hasattr(store, "user_key"):  # RedisLiveStore (imported lazily: redis is an optional extra)
        return RedisAudienceState(store)
    with _memory_lock:
        found = _memory_states.get(id(store))
        if found is None:
            found = _memory_states[id(store)] = MemoryAudienceState(store)
        return found


_memory_lock = threading.Lock()
_memory_states: dict[int, MemoryAudienceState] = {}
