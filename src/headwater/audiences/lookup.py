"""`AudienceLookup` over the live store: ids -> our user (id map) -> memberships -> segments.

On Redis the hot path is one round trip on an asyncio client of its own (no thread hop): a Lua
script GETs the candidate ids in order and answers the SMEMBERS of the first user found. On a
Redis Cluster those keys live on different slots, so it is two pipelined round trips there: the
GETs of every candidate id, then the SMEMBERS of the user found. The enrichment
pipeline bounds the whole with its timeout and returns the request unchanged on expiry (fail
open); the cancelled command's connection is dropped by redis-py, never reused half-read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from headwater.audiences.definitions import Definitions
from headwater.audiences.state import AudienceState, MemoryAudienceState, RedisAudienceState
from headwater.targeting.audiences import member_segments
from headwater.targeting.enrich import IdentityKey, Segment


class MembershipReader(Protocol):
    async def find(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        """(user, its audience ids) for the first mapped value, or None."""
        ...

    async def close(self) -> None: ...


class MemoryReader:
    def __init__(self, state: MemoryAudienceState) -> None:
        self.state = state

    async def find(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        user = self.state.resolve(values)
        if user is None:
            return None
        return user, self.state.store.audiences_of(user)

    async def close(self) -> None:
        return None


# KEYS: the id map entries in priority order; ARGV[1], ARGV[2]: what goes before and after a user
# in its membership key. Standalone Redis only (the membership key is not among KEYS).
FIND = """
for i = 1, #KEYS do
  local user = redis.call('GET', KEYS[i])
  if user then
    return {user, redis.call('SMEMBERS', ARGV[1] .. user .. ARGV[2])}
  end
end
return false
"""
_FIND_SHA = hashlib.sha1(FIND.encode()).hexdigest()


class RedisReader:
    def __init__(self, state: RedisAudienceState, connect_timeout: float = 0.05) -> None:
        self.state = state
        store: Any = state.store
        self.cluster: bool = store.cluster
        self.client: Any = store.open_async_client(socket_timeout=0.1, connect_timeout=connect_timeout)
        before, _, after = store.user_key("\0").partition("\0")
        self._user_key_parts = [before, after]

    async def find(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        if not values:
            return None
        if self.cluster:
            return await self._find_cluster(values)
        from redis.exceptions import NoScriptError

        keys = [self.state.id_key(v) for v in values]
        try:
            found = await self.client.evalsha(_FIND_SHA, len(keys), *keys, *self._user_key_parts)
        except NoScriptError:
            found = await self.client.eval(FIND, len(keys), *keys, *self._user_key_parts)
        if not found:
            return None
        return found[0], set(found[1])

    async def _find_cluster(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        pipe = self.client.pipeline(transaction=False)
        for value in values:
            pipe.get(self.state.id_key(value))
        found = await pipe.execute()
        user = next((u for u in found if u is not None), None)
        if user is None:
            return None
        audiences = await self.client.smembers(self.state.store.user_key(user))
        return user, set(audiences)

    async def close(self) -> None:
        await self.client.aclose()


def open_reader(state: AudienceState) -> MembershipReader:
    if isinstance(state, RedisAudienceState):
        return RedisReader(state)
    assert isinstance(state, MemoryAudienceState)
    return MemoryReader(state)


class LiveAudienceLookup:
    """The enrichment's AudienceLookup: only audiences sendable to buyers become segments."""

    def __init__(self, reader: MembershipReader, definitions: Definitions) -> None:
        self.reader = reader
        self.definitions = definitions

    async def find(self, keys: Sequence[IdentityKey]) -> tuple[str, set[str]] | None:
        return await self.reader.find([k.value for k in keys])

    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        found = await self.find(keys)
        if found is None:
            return None
        return member_segments(self.definitions.current().compiled.audiences, found[1])
