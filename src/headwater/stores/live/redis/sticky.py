"""Sticky buckets on Redis: one hash per user document, tagged by it (spread over a cluster).

The store vouches for its documents with marks (ports.StickyBuckets): one key on a standalone
Redis; on a cluster one per slot, with a hash tag of that slot, so a master lost with its slots
loses their marks with their documents and nothing else is restored. A verified read is one
script on the document's slot: the mark's existence and the document together.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from typing import Any

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from headwater.events.identity import person_ids
from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys

# KEYS[1]: the document, KEYS[2]: the mark of its slot. nil when the mark is missing.
VERIFIED_GET = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  return false
end
return redis.call('HGETALL', KEYS[1])
"""
_tags: list[str] = []
_tags_lock = threading.Lock()


def slot_tags() -> list[str]:
    """For each of the 16,384 cluster slots, a short string hashing to it (found once, ~0.3 s)."""
    with _tags_lock:
        if not _tags:
            found: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
            missing, n = REDIS_CLUSTER_HASH_SLOTS, 0
            while missing:
                tag = format(n, "x")
                slot = key_slot(tag.encode())
                if found[slot] is None:
                    found[slot] = tag
                    missing -= 1
                n += 1
            _tags.extend(t for t in found if t is not None)
        return _tags


def _save_pipeline(client: Any, name: str, fields: Mapping[str, str], ttl_seconds: int | None) -> Any:
    """The transaction that saves a document (sync or asyncio client: the caller executes it)."""
    pipe = client.pipeline(transaction=True)
    pipe.hset(name, mapping=dict(fields))
    if ttl_seconds is not None:
        pipe.expire(name, ttl_seconds)
    else:
        pipe.persist(name)
    return pipe


class RedisStickyBuckets:
    def __init__(self, conn: RedisConnection, keys: Keys) -> None:
        self.conn = conn
        self.keys = keys
        self.url = conn.url

    def get(self, key: str) -> dict[str, str]:
        name = self.keys.sticky(key)
        out: dict[str, str] = self.conn.run("read sticky bucket", lambda c: c.hgetall(name))
        return out

    def save(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        if not fields:
            return
        name = self.keys.sticky(key)
        self.conn.run("save sticky bucket", lambda c: _save_pipeline(c, name, fields, ttl_seconds).execute())

    async def aget(self, key: str) -> dict[str, str]:
        name = self.keys.sticky(key)
        out: dict[str, str] = await self.conn.arun("read sticky bucket", lambda c: c.hgetall(name))
        return out

    async def asave(self, key: str, fields: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        if not fields:
            return
        name = self.keys.sticky(key)
        await self.conn.arun(
            "save sticky bucket", lambda c: _save_pipeline(c, name, fields, ttl_seconds).execute()
        )

    def _mark_of(self, name: str) -> str:
        if not self.conn.cluster:
            return self.keys.sticky_mark()
        return self.keys.sticky_mark(slot_tags()[key_slot(name.encode())])

    def _marks(self) -> list[str]:
        if not self.conn.cluster:
            return [self.keys.sticky_mark()]
        return [self.keys.sticky_mark(tag) for tag in slot_tags()]

    async def aget_verified(self, key: str) -> dict[str, str] | None:
        name = self.keys.sticky(key)
        keys = [name, self._mark_of(name)]
        flat = await self.conn.arun(
            "read sticky bucket", lambda c: self.conn.aeval(c, VERIFIED_GET, keys, [])
        )
        if flat is None:
            return None
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def restore(self, documents: Mapping[str, Mapping[str, str]], ttl_seconds: int | None = None) -> int:
        commands: list[tuple[str, tuple[Any, ...]]] = []
        for key, fields in documents.items():
            name = self.keys.sticky(key)
            commands += [("hsetnx", (name, field, value)) for field, value in fields.items()]
            if ttl_seconds is not None:
                commands.append(("expire", (name, ttl_seconds, True)))  # NX: a TTL it has is kept
        results = self.conn.pipelined("restore sticky buckets", commands)
        return sum(1 for (command, _), r in zip(commands, results, strict=True) if command == "hsetnx" and r)

    def mark_restored(self) -> None:
        self.conn.pipelined("mark sticky buckets restored", [("set", (m, "1")) for m in self._marks()])

    def restored(self) -> bool:
        found = self.conn.pipelined("read sticky marks", [("exists", (m,)) for m in self._marks()])
        return all(found)

    def lock_restore(self, seconds: float) -> bool:
        name = self.keys.sticky_lock()
        owner = f"{os.getpid()}"
        return bool(
            self.conn.run("lock restore", lambda c: c.set(name, owner, nx=True, px=int(seconds * 1000)))
        )

    def unlock_restore(self) -> None:
        name = self.keys.sticky_lock()
        self.conn.run("unlock restore", lambda c: c.delete(name))

    def forget(self, ids: Collection[str]) -> int:
        """The documents are found by SCAN (one pass over the keyspace, every master of a cluster,
        per id: the attribute is not known), checked by their parsed value, then deleted one key
        per command (each on its own slot)."""
        values = person_ids(ids)
        keys = self.keys

        def find(c: Any) -> set[str]:
            found: set[str] = set()
            for value in values:
                for name in c.scan_iter(match=keys.sticky_pattern(value), count=1000):
                    if keys.sticky_document(name).partition("||")[2] == value:
                        found.add(name)
            return found

        doomed = sorted(self.conn.run("find sticky buckets", find)) if values else []
        return sum(self.conn.pipelined("forget sticky buckets", [("delete", (n,)) for n in doomed]))

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()
