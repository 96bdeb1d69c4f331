"""The live store's interface: what the live tailer writes and the live API, experiments and
audiences read. Backend-neutral: names here carry no prefix; each store adds its namespace.

Counters and distinct sets belong to the live tailer and are written only through :meth:`apply`,
atomically with the tailer's checkpoint (one Lua script on Redis, one lock in memory). Sticky
buckets and audience memberships are plain per-key primitives, spread by user over a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# A distinct set holds its members exactly up to this many, then only a HyperLogLog (~0.8 % error).
EXACT_THRESHOLD = 256


class LiveUnavailableError(RuntimeError):
    """The live store cannot be reached or answered an error; the message names the masked URL."""


class LiveTimeoutError(LiveUnavailableError):
    """The live store did not answer in time: slow (busy), not known to be down."""


class LiveConflictError(RuntimeError):
    """The stored checkpoint or epoch is not the one the batch was read from: nothing was applied."""


@dataclass(slots=True)
class LiveDelta:
    """What one batch adds. ``counters[name][field] += n``; ``distinct[name] |= members``.

    ``expire_at[name]`` (unix seconds) is set on every counter and distinct set the delta touches,
    so memory stays bounded without any sweeping job.
    """

    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    distinct: dict[str, set[str]] = field(default_factory=dict)
    expire_at: dict[str, int] = field(default_factory=dict)
    events: int = 0

    def incr(self, name: str, key: str, expire_at: int, n: int = 1) -> None:
        row = self.counters.get(name)
        if row is None:
            row = self.counters[name] = {}
            self.expire_at[name] = expire_at
        row[key] = row.get(key, 0) + n

    def add(self, name: str, member: str, expire_at: int) -> None:
        members = self.distinct.get(name)
        if members is None:
            members = self.distinct[name] = set()
            self.expire_at[name] = expire_at
        members.add(member)

    def is_empty(self) -> bool:
        return not self.counters and not self.distinct


@dataclass(frozen=True, slots=True)
class LiveCheckpoint:
    """Offsets (file -> byte offset) committed with the counters, and the epoch they belong to.

    The epoch is a random id written when the checkpoint is created; a store that lost its data
    (Redis restarted empty) has no epoch, so a batch read from the old checkpoint is refused.
    """

    epoch: str
    offsets: dict[str, int]


class LiveStore(Protocol):
    url: str  # masked

    def ping(self) -> None:
        """Raise LiveUnavailableError unless the store answers."""
        ...

    # -- the live tailer's state ---------------------------------------------------------------
    def load_checkpoint(self, tailer: str) -> LiveCheckpoint | None:
        """The stored checkpoint, or None when there is none (new or emptied store)."""
        ...

    def init_checkpoint(self, tailer: str, offsets: Mapping[str, int], epoch: str) -> LiveCheckpoint:
        """Create the checkpoint if absent; return the one stored (another process may have won)."""
        ...

    def apply(
        self,
        tailer: str,
        epoch: str,
        base: Mapping[str, int],
        new: Mapping[str, int],
        delta: LiveDelta,
    ) -> None:
        """Atomically: check the epoch and that each file of ``base`` is at its base offset (else
        LiveConflictError, nothing applied), add the delta, store the ``new`` offsets."""
        ...

    def reset(self, tailer: str) -> None:
        """Forget the tailer's checkpoint and every counter and distinct set (a full rebuild)."""
        ...

    # -- reading counters ---------------------------------------------------------------------
    def union_count(self, names: Sequence[str]) -> int:
        """Distinct members over the union of sets (exact while every set is small)."""
        ...

    def counts(self, names: Sequence[str]) -> list[int]:
        """Distinct members of each set (0 for a missing one)."""
        ...

    def counter(self, name: str) -> dict[str, int]: ...

    # -- the same reads, awaited on the API's event loop (redis.asyncio: no thread per request) --
    async def aunion_count(self, names: Sequence[str]) -> int: ...

    async def acounts(self, names: Sequence[str]) -> list[int]: ...

    async def acounter(self, name: str) -> dict[str, int]: ...

    async def aclose(self) -> None:
        """Close the async client (on the loop that used it)."""
        ...

    # -- sticky buckets (experiments) ---------------------------------------------------------
    def get_sticky(self, key: str) -> dict[str, str]:
        """The stored assignments of one hash-attribute value (e.g. ``id||u1``): field -> value."""
        ...

    def save_sticky(self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        """Store (overwrite) these fields; other fields of the key stay."""
        ...

    async def aget_sticky(self, key: str) -> dict[str, str]:
        """get_sticky, awaited on the API's event loop (one round trip, no thread)."""
        ...

    async def asave_sticky(
        self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None
    ) -> None:
        """save_sticky, awaited on the API's event loop (one round trip, no thread)."""
        ...

    # -- audience membership ------------------------------------------------------------------
    def add_members(self, audience: str, users: Iterable[str]) -> None: ...

    def remove_members(self, audience: str, users: Iterable[str]) -> None: ...

    def audiences_of(self, user: str) -> set[str]: ...

    def audience_size(self, audience: str) -> int: ...

    def audience_members(self, audience: str) -> set[str]:
        """Every member of an audience (the nightly reconciliation)."""
        ...

    def close(self) -> None: ...
