"""``redis://``, ``rediss://`` and ``redis+cluster://``: the live store on Redis or Redis Cluster
(redis-py). Each port gets a connection of its own (connection.py), with its caller's timeouts;
keys.py names every key, lua.py holds the counters' scripts."""

from __future__ import annotations

from urllib.parse import urlsplit

from headwater.stores.live.namespace import split_namespace
from headwater.stores.live.ports import LiveUnavailableError, StoreOptions
from headwater.stores.live.redis.audiences import RedisIdMap, RedisMembership
from headwater.stores.live.redis.connection import RedisConnection, cluster_nodes
from headwater.stores.live.redis.counters import RedisCounters
from headwater.stores.live.redis.keys import Keys
from headwater.stores.live.redis.sticky import RedisStickyBuckets
from headwater.urls import mask_url


class RedisBackend:
    def __init__(self, url: str) -> None:
        self.url = mask_url(url)
        self.plain_url, namespace = split_namespace(url)
        self.keys = Keys(namespace)
        if urlsplit(url).scheme == "redis+cluster":
            try:
                cluster_nodes(url)
            except ValueError as exc:
                raise LiveUnavailableError(f"invalid Redis Cluster URL {self.url!r}: {exc}") from None

    def _connection(self, options: StoreOptions) -> RedisConnection:
        return RedisConnection(self.plain_url, self.url, options)

    def counters(self, options: StoreOptions) -> RedisCounters:
        return RedisCounters(self._connection(options), self.keys)

    def sticky_buckets(self, options: StoreOptions) -> RedisStickyBuckets:
        return RedisStickyBuckets(self._connection(options), self.keys)

    def id_map(self, options: StoreOptions) -> RedisIdMap:
        return RedisIdMap(self._connection(options), self.keys)

    def membership(self, options: StoreOptions) -> RedisMembership:
        return RedisMembership(self._connection(options), self.keys)


def open_backend(url: str) -> RedisBackend:
    return RedisBackend(url)
