"""The enrichment's AudienceLookup over the live store: ids -> our user (id map) -> memberships ->
segments, in one awaited call of the membership port (one round trip on Redis, see
headwater.stores.live.redis.audiences). The enrichment bounds it with its timeout and returns the
request unchanged on expiry (fail open)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from headwater.audiences.definitions import Definitions
from headwater.stores.live.ports import Membership
from headwater.targeting.audiences import member_segments
from headwater.targeting.enrich import IdentityKey, Segment


class LiveAudienceLookup:
    """Only audiences sendable to buyers become segments."""

    def __init__(self, membership: Membership, definitions: Definitions) -> None:
        self.membership = membership
        self.definitions = definitions
        #: whether an id is a suppressed person's (set by the wiring; docs/privacy.md)
        self.suppressed: Callable[[str], bool] | None = None

    async def find(self, keys: Sequence[IdentityKey]) -> tuple[str, set[str]] | None:
        return await self.membership.lookup([k.value for k in keys])

    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        found = await self.find(keys)
        if found is None:
            return None
        check = self.suppressed
        if check is not None and (check(found[0]) or any(check(k.value) for k in keys)):
            return None  # a suppressed person gets no segment: as if unknown
        return member_segments(self.definitions.current().compiled.audiences, found[1])
