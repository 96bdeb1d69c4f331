"""The live store's ports: four small interfaces over one backend (memory://, redis://,
redis+cluster://), each opened with the timeouts its caller needs.

- :class:`Counters`: the live tailer's numbers (hashes of integers: event counts it adds to,
  exact unique counts it sets), written only through :meth:`Counters.apply`, atomically with the
  tailer's checkpoint (one Lua script on Redis, one lock in memory); read by the live API and
  the hourly rollup. No member of any set is stored: the tailer keeps them (headwater.live.state).
  The audiences tailer keeps its own checkpoint here too (an empty delta).
- :class:`StickyBuckets`: experiment assignments, one document per user.
- :class:`IdMap`: advertising ids, buyer uids and user ids -> our user.
- :class:`Membership`: audience membership, each user's matching-event stamps, and the one-round-
  trip lookup of the enrichment (ids -> user -> audiences).

Backend-neutral: names here carry no prefix; each store adds its namespace. On a cluster, counters
share one hash tag (one slot: a batch and its checkpoint commit together) while sticky buckets,
ids and memberships are tagged by user, audience or id and spread over every master.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from headwater.events.identity import ANON_PREFIX, person_ids


class LiveUnavailableError(RuntimeError):
    """The live store cannot be reached or answered an error; the message names the masked URL."""


class LiveTimeoutError(LiveUnavailableError):
    """The live store did not answer in time: slow (busy), not known to be down."""


class LiveConflictError(RuntimeError):
    """The stored checkpoint or epoch is not the one the batch was read from: nothing was applied."""


@dataclass(slots=True)
class LiveDelta:
    """What one batch changes: ``counters[name][field] += n``; ``values[name][field] = n``.

    ``expire_at[name]`` (unix seconds) is set on every hash the delta touches, so memory stays
    bounded without any sweeping job.
    """

    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    expire_at: dict[str, int] = field(default_factory=dict)
    events: int = 0

    def incr(self, name: str, key: str, expire_at: int, n: int = 1) -> None:
        row = self.counters.get(name)
        if row is None:
            row = self.counters[name] = {}
            self.expire_at[name] = expire_at
        row[key] = row.get(key, 0) + n

    def set_values(self, name: str, values: Mapping[str, int], expire_at: int) -> None:
        row = self.values.get(name)
        if row is None:
            row = self.values[name] = {}
            self.expire_at[name] = expire_at
        row.update(values)

    def is_empty(self) -> bool:
        return not self.counters and not self.values


@dataclass(frozen=True, slots=True)
class LiveCheckpoint:
    """Offsets (file -> byte offset) committed with the counters, and the epoch they belong to.

    The epoch is a random id written when the checkpoint is created; a store that lost its data
    (Redis restarted empty) has no epoch, so a batch read from the old checkpoint is refused.
    """

    epoch: str
    offsets: dict[str, int]


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Network timeouts: short for the API (fail fast, answer 503), longer for the tailer."""

    connect_timeout: float = 2.0
    socket_timeout: float = 10.0


Stamps = dict[str, dict[str, int]]  # condition key -> {message id: ms}


def person_keys(ids: Iterable[str]) -> set[str]:
    """Every name a person's ids have in the live store: the id itself (a userId, an ad id) and
    ``anon:<id>``, the audiences' actor key of an anonymous id."""
    return {k for i in person_ids(ids) for k in (i, ANON_PREFIX + i)}


class Counters(Protocol):
    url: str  # masked

    def ping(self) -> None:
        """Raise LiveUnavailableError unless the store answers."""
        ...

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

    def replace(
        self, tailer: str, epoch: str, offsets: Mapping[str, int], delta: LiveDelta, forget: Sequence[str]
    ) -> None:
        """Atomically: forget the hashes ``forget`` and the tailer's checkpoint, then store the
        delta's numbers (counters and values alike, as values) and the checkpoint ``offsets``
        under a new ``epoch``: a rebuild made beside the store, swapped in."""
        ...

    def reset(self, tailer: str) -> None:
        """Forget the tailer's checkpoint and every number (a full rebuild)."""
        ...

    def forget_checkpoint(self, tailer: str) -> None:
        """Forget one tailer's checkpoint only (its next start rebuilds from the log)."""
        ...

    def forget(self, ids: Collection[str]) -> int:
        """Remove a person (GDPR deletion): always 0, there is nothing of theirs to remove. Every
        key here is a hash of integers (events and exact unique counts per hour, day and minute
        of last activity); the sets behind the unique counts are the live tailer's, in its
        memory (headwater.live.state), never stored. Those counts still include the person until
        they are rebuilt from the erased log (headwater.live.service.rebuild_live: a rebuild
        beside the store, swapped in by :meth:`replace`)."""
        ...

    def hashes(self, names: Sequence[str]) -> list[dict[str, int]]:
        """Every field of each hash (empty for a missing one), in one round trip."""
        ...

    def window_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int:
        """The sum, over (hash, lo, hi), of the fields whose integer name is within [lo, hi]."""
        ...

    # the same reads, awaited on the API's event loop (redis.asyncio: no thread per request)
    async def ahashes(self, names: Sequence[str]) -> list[dict[str, int]]: ...

    async def awindow_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int: ...

    async def aclose(self) -> None:
        """Close the async client (on the loop that used it)."""
        ...

    def close(self) -> None: ...


class StickyBuckets(Protocol):
    """Experiment assignments: one document per user, and whether the store can vouch for it.

    A store that lost documents (memory:// at every start, a Redis restarted empty, a cluster
    master lost with its slots) must not let anyone be assigned afresh: the lost assignments are
    restored from the log first (headwater.experiments.sticky_restore). A restored store is marked
    (per cluster slot on a cluster); :meth:`aget_verified` answers None where the mark is missing."""

    url: str

    def get(self, key: str) -> dict[str, str]:
        """The stored document of one hash-attribute value (e.g. ``id||u1``): field -> value."""
        ...

    def save(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        """Store (overwrite) these fields; other fields of the document stay."""
        ...

    async def aget(self, key: str) -> dict[str, str]:
        """get, awaited on the API's event loop (one round trip, no thread)."""
        ...

    async def asave(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None: ...

    async def aget_verified(self, key: str) -> dict[str, str] | None:
        """The document, or None when the store cannot vouch for it (not restored since it lost data)."""
        ...

    def restore(self, documents: Mapping[str, Mapping[str, str]], ttl_seconds: int | None = None) -> int:
        """Write every field not already stored (a field present wins); the number written."""
        ...

    def mark_restored(self) -> None:
        """Vouch for every document from now on (after a restore)."""
        ...

    def restored(self) -> bool:
        """Whether the store vouches for every document (nothing lost since the last restore)."""
        ...

    def lock_restore(self, seconds: float) -> bool:
        """Take the restore lock for ``seconds`` (one process restores; the others wait)."""
        ...

    def unlock_restore(self) -> None: ...

    def forget(self, ids: Collection[str]) -> int:
        """Remove a person's documents, whatever the hash attribute (``<attribute>||<id>``); how
        many. Their assignments go with them: a returning person is assigned afresh (suppression
        keeps a deleted person out anyway). A restore from the log puts back only what the erased
        log still holds. Idempotent."""
        ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


class IdMap(Protocol):
    url: str

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        """id value -> user (the latest mapping wins)."""
        ...

    def resolve(self, values: Sequence[str]) -> str | None:
        """The user of the first mapped value, in order."""
        ...

    def reset(self) -> None:
        """Forget every mapping (a rebuild from the log)."""
        ...

    def forget(self, ids: Collection[str]) -> int:
        """Remove every entry of a person, keyed by one of their ids (``anon:<id>`` included) or
        mapped to one (their advertising ids, buyer uids: ids of theirs the caller may not know);
        how many. The second kind needs a pass over the whole map. Idempotent."""
        ...

    def close(self) -> None: ...


class Membership(Protocol):
    url: str

    def add_members(self, audience: str, users: Iterable[str]) -> None: ...

    def remove_members(self, audience: str, users: Iterable[str]) -> None: ...

    def audiences_of(self, user: str) -> set[str]: ...

    def memberships(self, users: Sequence[str]) -> dict[str, set[str]]:
        """The audiences of each of these users (one round trip where the backend allows)."""
        ...

    def audience_size(self, audience: str) -> int: ...

    def audience_members(self, audience: str) -> set[str]:
        """Every member of an audience (the nightly reconciliation)."""
        ...

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        """Add stamps (idempotent: keyed by message id), keeping the ``keep[cond]`` latest."""
        ...

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        """user -> condition -> stamps (ms), for these conditions only."""
        ...

    async def lookup(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        """The enrichment's read: the user of the first mapped id (the IdMap's), and its audiences."""
        ...

    def reset(self) -> None:
        """Forget every membership and stamp (a rebuild from the log)."""
        ...

    def forget(self, ids: Collection[str]) -> int:
        """Remove a person's memberships and stamps (their own key, under each id and ``anon:<id>``)
        and them from every audience's member set; the keys and members removed. Audience sizes
        drop by exactly the person. Idempotent."""
        ...

    def format_current(self) -> bool:
        """Whether the stored keys are of this version's layout (else they are rebuilt)."""
        ...

    def mark_format(self) -> None:
        """Record that the keys are of this version's layout."""
        ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


class LiveBackend(Protocol):
    """One live store URL; opens each port with the timeouts its caller needs. For ``memory://``
    every port of one backend object shares the same in-process state."""

    url: str  # masked

    def counters(self, options: StoreOptions) -> Counters: ...

    def sticky_buckets(self, options: StoreOptions) -> StickyBuckets: ...

    def id_map(self, options: StoreOptions) -> IdMap: ...

    def membership(self, options: StoreOptions) -> Membership: ...
