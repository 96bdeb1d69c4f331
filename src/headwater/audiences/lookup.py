"""`AudienceLookup` over the live store: ids -> our user (id map) -> memberships -> segments.

On Redis the hot path is two pipelined round trips on an asyncio client of its own (no thread
hop): the GETs of every candidate id, then the SMEMBERS of the user found. The enrichment
pipeline bounds the whole with its timeout and returns the request unchanged on expiry (fail
open); the cancelled command's connection is dropped by redis-py, never reused half-read.
"""

from __future__ import annotations

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


class RedisReader:
    def __init__(self, state: RedisAudienceState, connect_timeout: float = 0.05) -> None:
        self.state = state
        store: Any = state.store
        common: dict[str, Any] = dict(
            socket_timeout=0.1, socket_connect_timeout=connect_timeout, decode_responses=True
        )
        if store.cluster:
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            from headwater.stores.live.redis import cluster_nodes

            nodes, auth = cluster_nodes(store._raw_url)
            self.client: Any = RedisCluster(
                startup_nodes=[ClusterNode(n.host, n.port) for n in nodes], **auth, **common
            )
        else:
            import redis.asyncio

            self.client = redis.asyncio.Redis.from_url(store._raw_url, **common)

    async def find(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        pipe = self.client.pipeline(transaction=False)
        for value in values:
            pipe.get(self.state.id_key(value))
        found = await pipe.execute()
        user = next((u for u in found if u is not None), None)
        if user is None:
            return None
        audiences = await self.client.smembers(self.state.store._user_key(user))
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
