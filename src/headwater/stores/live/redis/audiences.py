"""The audiences' state on Redis: the id map, memberships (both directions) and stamps, and the
enrichment's lookup.

A user's memberships and stamps share one small hash, ``ns:u:{user}``: a field ``a␟<audience>``
per audience (value ``1``) and ``s␟<condition>`` per condition with stamps (``ms:fp ms:fp ...``,
the latest first-kept, ``fp`` 8 characters of the message id's BLAKE2b: a stamp is added once
however often its batch is applied). One key per user instead of a set and a sorted set per
condition: Redis spends ~100 bytes a key before its first byte of data, and this layout took the
footprint of audiences at 10M events a month from 24.7 to ~10 MB (bench/bench_footprint.py).
Each audience also has its member set ``ns:members:{audience}`` (sizes, the nightly reconciliation).

Every key carries a hash tag (``{user}``, ``{value}`` of an id map entry, ``{audience}``), so a
Redis Cluster spreads them. The lookup is one round trip on a standalone Redis (a Lua script GETs
the candidate ids in order and answers the fields of the first user found); on a cluster those keys
live on different slots, so it is two pipelined round trips. The enrichment bounds the whole with
its timeout (fail open); the cancelled command's connection is dropped by redis-py, never reused
half-read.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from headwater.stores.live.ports import Stamps, person_keys
from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys

MEMBER = "a\x1f"  # field prefix of an audience the user is in
STAMPS = "s\x1f"  # field prefix of a condition's stamps
FORMAT = "2"  # of the audiences' keys; an older store is rebuilt from the log (headwater.audiences.tailer)

# KEYS: the id map entries in priority order; ARGV[1], ARGV[2]: what goes before and after a user
# in its key. Standalone Redis only (the user's key is not among KEYS).
FIND = """
for i = 1, #KEYS do
  local user = redis.call('GET', KEYS[i])
  if user then
    return {user, redis.call('HKEYS', ARGV[1] .. user .. ARGV[2])}
  end
end
return false
"""

# KEYS[1]: an id map entry; ARGV: a person's keys. Deleted only if it still maps to one of them
# (the audiences tailer may have mapped it to someone else since it was read).
FORGET_IF_MAPPED = """
local user = redis.call('GET', KEYS[1])
for i = 1, #ARGV do
  if user == ARGV[i] then
    return redis.call('DEL', KEYS[1])
  end
end
return 0
"""
_SCAN_CHUNK = 1000


def stamp_id(message_id: str) -> str:
    return base64.urlsafe_b64encode(hashlib.blake2b(message_id.encode(), digest_size=6).digest()).decode()


def audiences_in(fields: Iterable[str]) -> set[str]:
    return {f[len(MEMBER) :] for f in fields if f.startswith(MEMBER)}


def merge_stamps(stored: str | None, new: Mapping[str, int], keep: int) -> str:
    """The stamps text with ``new`` (message id -> ms) added, the latest ``keep`` kept."""
    found: dict[str, int] = {}
    for item in (stored or "").split():
        text, _, fp = item.partition(":")
        found[fp] = int(text)
    for message_id, ms in new.items():
        found.setdefault(stamp_id(message_id), int(ms))
    latest = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))[-keep:] if keep > 0 else []
    return " ".join(f"{ms}:{fp}" for fp, ms in latest)


def stamp_times(stored: str | None) -> list[int]:
    return [int(item.partition(":")[0]) for item in (stored or "").split()]


def _mapped_to(client: Any, names: list[str], people: set[str]) -> list[str]:
    """Those of these id map entries whose user is one of ``people`` (one pipeline of GETs)."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
    return [n for n, user in zip(names, pipe.execute(), strict=True) if user in people]


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

    def forget(self, ids: Collection[str]) -> int:
        """The person's own entries by name; the entries mapped to them by one SCAN of the map (every
        master of a cluster) with the values read a thousand at a time, each deleted by a script
        on its own slot only if it still maps to the person."""
        people = sorted(person_keys(ids))
        if not people:
            return 0
        own = [("delete", (self.keys.id_value(k),)) for k in people]
        removed: int = sum(self.conn.pipelined("forget ids", own))

        def find(c: Any) -> list[str]:
            found: list[str] = []
            names: list[str] = []
            wanted = set(people)
            for name in c.scan_iter(match=self.keys.id_map_pattern(), count=_SCAN_CHUNK):
                names.append(name)
                if len(names) == _SCAN_CHUNK:
                    found += _mapped_to(c, names, wanted)
                    names = []
            return found + (_mapped_to(c, names, wanted) if names else [])

        mapped = self.conn.run("find ids mapped to a person", find)
        # EVAL by name: redis-py's cluster pipeline has no eval(), its execute_command routes by KEYS
        checks = [("execute_command", ("EVAL", FORGET_IF_MAPPED, 1, name, *people)) for name in mapped]
        deleted: list[int] = self.conn.pipelined("forget ids mapped to a person", checks)
        return removed + sum(deleted)

    def close(self) -> None:
        self.conn.drop()


class RedisMembership:
    def __init__(self, conn: RedisConnection, keys: Keys) -> None:
        self.conn = conn
        self.keys = keys
        self.url = conn.url
        before, _, after = keys.user("\0").partition("\0")
        self._user_key_parts = [before, after]

    def add_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("add members", audience, list(users), add=True)

    def remove_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("remove members", audience, list(users), add=False)

    def _members(self, what: str, audience: str, users: list[str], add: bool) -> None:
        """The users' own keys first, then the audience's set: the first is what enrichment reads."""
        if not users:
            return
        keys = self.keys
        field = MEMBER + audience

        def run(c: Any) -> None:
            pipe = c.pipeline(transaction=False)
            for user in users:
                if add:
                    pipe.hset(keys.user(user), field, "1")
                else:
                    pipe.hdel(keys.user(user), field)
            pipe.execute()
            op = c.sadd if add else c.srem
            for i in range(0, len(users), 1000):
                op(keys.audience_members(audience), *users[i : i + 1000])

        self.conn.run(what, run)

    def audiences_of(self, user: str) -> set[str]:
        key = self.keys.user(user)
        return audiences_in(self.conn.run("read audiences", lambda c: c.hkeys(key)))

    def memberships(self, users: Sequence[str]) -> dict[str, set[str]]:
        found = self.conn.pipelined("read memberships", [("hkeys", (self.keys.user(u),)) for u in users])
        return {u: audiences_in(fields) for u, fields in zip(users, found, strict=True)}

    def audience_size(self, audience: str) -> int:
        key = self.keys.audience_members(audience)
        return int(self.conn.run("count members", lambda c: c.scard(key)))

    def audience_members(self, audience: str) -> set[str]:
        key = self.keys.audience_members(audience)
        return set(self.conn.run("list members", lambda c: set(c.sscan_iter(key, count=1000))))

    def add_stamps(self, by_user: Mapping[str, Stamps], keep: Mapping[str, int]) -> None:
        """Read each user's stamps of these conditions, merge, write back (only the audiences
        tailer writes stamps: no other writer to race with)."""
        users = [u for u, stamps in by_user.items() if stamps]
        fields = {u: [STAMPS + c for c in by_user[u]] for u in users}
        reads = [("hmget", (self.keys.user(u), fields[u])) for u in users]
        stored = self.conn.pipelined("read stamps", reads)
        writes: list[tuple[str, tuple[Any, ...]]] = []
        for user, values in zip(users, stored, strict=True):
            merged = {
                STAMPS + cond: merge_stamps(old, new, keep.get(cond, 1))
                for (cond, new), old in zip(by_user[user].items(), values, strict=True)
            }
            writes.append(("hset", (self.keys.user(user), None, None, merged)))
        self.conn.pipelined("add stamps", writes)

    def stamps_of(self, users: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        fields = [STAMPS + c for c in conditions]
        found = (
            self.conn.pipelined("read stamps", [("hmget", (self.keys.user(u), fields)) for u in users])
            if conditions
            else [[] for _ in users]
        )
        out: dict[str, dict[str, list[int]]] = {u: {} for u in users}
        for user, values in zip(users, found, strict=True):
            for cond, text in zip(conditions, values, strict=True):
                if text:
                    out[user][cond] = stamp_times(text)
        return out

    def format_current(self) -> bool:
        key = self.keys.audiences_format()
        return bool(self.conn.run("read the audiences' format", lambda c: c.get(key)) == FORMAT)

    def mark_format(self) -> None:
        key = self.keys.audiences_format()
        self.conn.run("mark the audiences' format", lambda c: c.set(key, FORMAT))

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
        return found[0], audiences_in(found[1])

    async def _lookup_cluster(self, client: Any, keys: list[str]) -> tuple[str, set[str]] | None:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        found = await pipe.execute()
        user = next((u for u in found if u is not None), None)
        if user is None:
            return None
        fields = await client.hkeys(self.keys.user(user))
        return user, audiences_in(fields)

    def reset(self) -> None:
        self.conn.delete_matching("reset memberships", self.keys.membership_patterns())

    def forget(self, ids: Collection[str]) -> int:
        """The person's own keys (audiences and stamps) by name, then them out of every audience's
        member set (found by one SCAN: a handful of keys), one SREM per set (each on its slot)."""
        people = sorted(person_keys(ids))
        if not people:
            return 0
        own = [("delete", (self.keys.user(u),)) for u in people]
        removed: int = sum(self.conn.pipelined("forget memberships", own))
        pattern = self.keys.audience_members("*")
        sets = sorted(self.conn.run("find audiences", lambda c: set(c.scan_iter(match=pattern, count=1000))))
        drops = [("srem", (name, *people)) for name in sets]
        dropped: list[int] = self.conn.pipelined("forget members", drops)
        return removed + sum(dropped)

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()
