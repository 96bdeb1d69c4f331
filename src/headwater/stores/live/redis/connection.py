"""A Redis or Redis Cluster connection for one port (redis-py): the blocking client and the asyncio
one of the API's event loop, both made on first use, and every failure mapped to the live store's
errors (LiveUnavailableError, LiveTimeoutError, LiveConflictError)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from headwater.stores.live.ports import (
    LiveConflictError,
    LiveTimeoutError,
    LiveUnavailableError,
    StoreOptions,
)

T = TypeVar("T")
_SHA: dict[str, str] = {}


def script_sha(source: str) -> str:
    sha = _SHA.get(source)
    if sha is None:
        sha = _SHA[source] = hashlib.sha1(source.encode()).hexdigest()
    return sha


def cluster_nodes(url: str) -> tuple[list[ClusterNode], dict[str, Any]]:
    """``redis+cluster://[user:password@]h1:p1[,h2:p2...]`` -> startup nodes and auth kwargs."""
    netloc = urlsplit(url).netloc
    auth: dict[str, Any] = {}
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        if user:
            auth["username"] = unquote(user)
        if password:
            auth["password"] = unquote(password)
    nodes = []
    for part in netloc.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected host:port, got {part!r}")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))  # type: ignore[no-untyped-call]
    return nodes, auth


class RedisConnection:
    def __init__(self, url: str, masked: str, options: StoreOptions) -> None:
        self.raw_url = url
        self.url = masked
        self.cluster = urlsplit(url).scheme == "redis+cluster"
        self.options = options
        self._client: Any = None
        self._async: Any = None  # redis.asyncio client of the API's event loop, made on first use
        self._lock = threading.Lock()

    # -- clients ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        common: dict[str, Any] = dict(
            socket_timeout=self.options.socket_timeout,
            socket_connect_timeout=self.options.connect_timeout,
            decode_responses=True,
        )
        if self.cluster:
            # the cluster client keeps its own retry: with none, it gives up on the first (dead)
            # startup node instead of asking the next one for the topology
            nodes, auth = cluster_nodes(self.raw_url)
            return RedisCluster(startup_nodes=nodes, require_full_coverage=False, **auth, **common)
        return redis.Redis.from_url(self.raw_url, retry=Retry(NoBackoff(), 0), **common)

    def _connect_async(self) -> Any:
        common: dict[str, Any] = dict(
            socket_timeout=self.options.socket_timeout,
            socket_connect_timeout=self.options.connect_timeout,
            decode_responses=True,
        )
        if self.cluster:
            nodes, auth = cluster_nodes(self.raw_url)
            return AsyncRedisCluster(
                startup_nodes=[aredis.cluster.ClusterNode(n.host, n.port) for n in nodes],
                require_full_coverage=False,
                **auth,
                **common,
            )
        return aredis.Redis.from_url(self.raw_url, retry=AsyncRetry(NoBackoff(), 0), **common)

    # -- calls --------------------------------------------------------------------------------
    def run(self, what: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` on the blocking client; every failure as a live store error."""
        try:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
                client = self._client
            return fn(client)
        except ResponseError as exc:
            if str(exc).startswith("HWCONFLICT"):
                raise LiveConflictError(str(exc)[len("HWCONFLICT ") :]) from None
            if isinstance(exc, ClusterError):  # CLUSTERDOWN, TRYAGAIN, MASTERDOWN
                raise LiveUnavailableError(
                    f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
                ) from None
            raise LiveUnavailableError(f"live store {self.url} refused {what}: {exc}") from None
        except (RedisError, RedisClusterException, OSError) as exc:
            if self.cluster:
                self.drop()  # the next call reads the topology again
            raise LiveUnavailableError(
                f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
            ) from None

    async def arun(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """The async twin of run: one awaited call on the asyncio client, same errors."""
        try:
            if self._async is None:
                self._async = self._connect_async()
            return await fn(self._async)
        except ResponseError as exc:
            if isinstance(exc, ClusterError):
                raise LiveUnavailableError(
                    f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
                ) from None
            raise LiveUnavailableError(f"live store {self.url} refused {what}: {exc}") from None
        except (RedisTimeoutError, TimeoutError) as exc:  # busy: this call fails, no breaker
            raise LiveTimeoutError(f"live store {self.url} too slow ({what}): {exc}") from None
        except (RedisError, RedisClusterException, OSError) as exc:
            await self.adrop()
            raise LiveUnavailableError(
                f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
            ) from None

    def script(self, client: Any, source: str) -> Callable[[list[str], list[Any]], Any]:
        """EVALSHA, falling back to EVAL (which caches the script on that node). Not redis-py's
        Script: on a cluster its SCRIPT LOAD goes to every master and fails while one is down."""
        sha = script_sha(source)

        def call(keys: list[str], args: list[Any]) -> Any:
            try:
                return client.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:
                return client.eval(source, len(keys), *keys, *args)

        return call

    @staticmethod
    async def aeval(client: Any, source: str, keys: list[str], args: list[Any]) -> Any:
        sha = script_sha(source)
        try:
            return await client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(source, len(keys), *keys, *args)

    def pipelined(self, what: str, commands: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Commands in pipelines of 2,000 (no transaction: each key on its own slot)."""

        def run(c: Any) -> list[Any]:
            out: list[Any] = []
            for i in range(0, len(commands), 2000):
                pipe = c.pipeline(transaction=False)
                for name, args in commands[i : i + 2000]:
                    getattr(pipe, name)(*args)
                out.extend(pipe.execute())
            return out

        return list(self.run(what, run)) if commands else []

    def delete_matching(self, what: str, patterns: list[str]) -> int:
        """Delete every key matching these patterns, on every master, one key per command (the keys
        of a cluster live on many slots); how many were deleted."""

        def run(c: Any) -> int:
            found = [k for pattern in patterns for k in c.scan_iter(match=pattern, count=1000)]
            for i in range(0, len(found), 1000):
                pipe = c.pipeline(transaction=False)
                for key in found[i : i + 1000]:
                    pipe.delete(key)
                pipe.execute()
            return len(found)

        return int(self.run(what, run))

    # -- closing ------------------------------------------------------------------------------
    def drop(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken client must not mask the first error
                client.close()

    async def adrop(self) -> None:
        client, self._async = self._async, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
