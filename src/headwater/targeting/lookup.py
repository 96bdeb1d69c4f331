"""Where a user's segments come from: the `AudienceLookup` protocol.

headwater.audiences.lookup implements it over the live store's membership port (memory, Redis,
Redis Cluster); `StaticLookup` serves a fixed mapping, for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from headwater.targeting.enrich import IdentityKey, Segment


class AudienceLookup(Protocol):
    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        """The segments (sendable to buyers) of the first known user among `keys`, in priority
        order; None when no key maps to a known user."""
        ...


class StaticLookup:
    """Segments by identity value (any kind of key): the first key with an entry wins."""

    def __init__(self, segments_by_id: Mapping[str, Sequence[Segment]]) -> None:
        self._segments = dict(segments_by_id)

    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        return self.lookup(keys)

    def lookup(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        for key in keys:
            found = self._segments.get(key.value)
            if found is not None:
                return found
        return None
