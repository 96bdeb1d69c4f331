"""Sticky buckets on Redis: one hash per user document, tagged by it (spread over a cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys


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

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()
