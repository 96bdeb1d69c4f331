"""The audiences' state on Redis: the id map, memberships (both directions) and stamps, and the
enrichment's lookup.

Every key of a user carries the hash tag ``{user}`` (an id map entry ``{value}``, an audience's
member set ``{audience}``), so a Redis Cluster spreads them. The lookup is one round trip on a
standalone Redis (a Lua script GETs the candidate ids in order and answers the SMEMBERS of the first
user found); on a cluster those keys live on different slots, so it is two pipelined round trips:
the GETs of every candidate id, then the SMEMBERS of the user found. The enrichment bounds the
whole with its timeout (fail open); the cancelled command's connection is dropped by redis-py,
never reused half-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from headwater.stores.live.ports import Stamps
from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys

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


class RedisIdMap:
    def __init__(self, conn: RedisConnection, keys: Keys) -> None:
        self.conn = conn
        self.keys = keys
        self.url = conn.url

    def map_ids(self, pairs: Mapping[str, str]) -> None:
        self.conn.pipelined("map ids", [("set", (self.keys.id_value(v), u)) for v, u in pairs.items()])

    def resolve(self, values: Sequence[str]) -> str | None:
        found = self.conn.pipelined("resolve ids", [("get", (self.keys.id_value(v),)) for v in values])
        return next((u for u in found if u is not None), None)

    def reset(self) -> None:
        self.conn.delete_matching("reset the id map", [self.keys.id_map_pattern()])

    def close(self) -> None:
        self.conn.drop()


class RedisMembership:
    def __init__(self, conn: RedisConnection, keys: Keys) -> None:
        self.conn = conn
        self.keys = keys
        self.url = conn.url
        before, _, after = keys.user_audiences("\0").partition("\0")
        self._user_key_parts = [before, after]

    def add_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("add members", "sadd", audience, list(users))

    def remove_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("remove members", "srem", audience, list(users))

    def _members(self, what: str, op: str, audience: str, users: list[str]) -> None:
        """Per-user sets first, then the audience's set: the per-user side is what enrichment reads."""
        if not users:
            return
        keys = self.keys

        def run(c: Any) -> None:
            pipe = c.pipeline(transaction=False)
            for user in users:
                getattr(pipe, op)(keys.user_audiences(user), audience)
            pipe.execute()
            for i in range(0, len(users), 1000):
                getattr(c, op)(keys.audience_members(audience), *users[i : i + 1000])

        self.conn.run(what, run)

    def audiences_of(self, user: str) -> set[str]:
        key = self.keys.user_audiences(user)
        found: set[str] = self.conn.run("read audiences", lambda c: c.smembers(key))
        return set(found)

    def memberships(self, users: Sequence[str]) -> dict[str, set[str]]:
        found = self.conn.pipelined(
            "read memberships", [("smembers", (self.keys.user_audiences(u),)) for u in users]
        )
        return {u: set(m) for u, m in zip(users, found, strict=True)}

    def audience_size(self, audience: str) -> int:
        key = self.keys.audience_members(audience)
        return int(self.conn.run("count members", lambda c: c.scard(key)))

    def audience_members(self, audience: str) -> set[str]:
        key = self.keys.audience_members(audience)
        return set(self.conn.run("list members", lambda c: set(c.sscan_iter(key, count=1000))))

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        commands: list[tuple[str, tuple[Any, ...]]] = []
        for user, stamps in by_user.items():
            for cond, new in stamps.items():
                key = self.keys.stamps(user, cond)
                commands.append(("zadd", (key, dict(new))))
                commands.append(("zremrangebyrank", (key, 0, -keep.get(cond, 1) - 1)))
        self.conn.pipelined("add stamps", commands)

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        pairs = [(u, c) for u in users for c in conditions]
        found = self.conn.pipelined(
            "read stamps", [("zrange", (self.keys.stamps(u, c), 0, -1, False, True)) for u, c in pairs]
        )
        out: dict[str, dict[str, list[int]]] = {u: {} for u in users}
        for (user, cond), rows in zip(pairs, found, strict=True):
            if rows:
                out[user][cond] = [int(score) for _, score in rows]
        return out

    async def lookup(self, values: Sequence[str]) -> tuple[str, set[str]] | None:
        if not values:
            return None
        keys = [self.keys.id_value(v) for v in values]
        if self.conn.cluster:
            pair: tuple[str, set[str]] | None = await self.conn.arun(
                "look up ids", lambda c: self._lookup_cluster(c, keys)
            )
            return pair
        found = await self.conn.arun(
            "look up ids", lambda c: self.conn.aeval(c, FIND, keys, self._user_key_parts)
        )
        if not found:
            return None
        return found[0], set(found[1])

    async def _lookup_cluster(self, client: Any, keys: list[str]) -> tuple[str, set[str]] | None:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        found = await pipe.execute()
        user = next((u for u in found if u is not None), None)
        if user is None:
            return None
        audiences = await client.smembers(self.keys.user_audiences(user))
        return user, set(audiences)

    def reset(self) -> None:
        self.conn.delete_matching("reset memberships", self.keys.membership_patterns())

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()
