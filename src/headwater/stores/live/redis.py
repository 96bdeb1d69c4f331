"""``redis://`` and ``redis+cluster://``: the live store on Redis or Redis Cluster (redis-py).

Counters, distinct sets and the live tailer's checkpoint share the hash tag ``{<namespace>}``:
one slot, so a batch and its checkpoint commit in one Lua script (atomic, replicated and
persisted as a unit). Sticky buckets and memberships are tagged by user or audience instead and
spread over every master. Every failure comes out as LiveUnavailableError (or LiveConflictError).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec
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

from headwater.stores.live import lua
from headwater.stores.live.base import (
    EXACT_THRESHOLD,
    LiveCheckpoint,
    LiveConflictError,
    LiveDelta,
    LiveTimeoutError,
    LiveUnavailableError,
)
from headwater.stores.live.opener import StoreOptions

T = TypeVar("T")
_encode = msgspec.msgpack.Encoder().encode
_SHA: dict[str, str] = {}


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


class RedisLiveStore:
    def __init__(self, url: str, namespace: str, options: StoreOptions, masked: str) -> None:
        self.url = masked
        self._raw_url = url
        self.cluster = urlsplit(url).scheme == "redis+cluster"
        self.namespace = namespace
        self.prefix = "{" + namespace + "}:"
        self.options = options
        self._client: Any = None
        self._async: Any = None  # redis.asyncio client of the API's event loop, made on first use
        self._lock = threading.Lock()
        if self.cluster:
            try:
                cluster_nodes(url)
            except ValueError as exc:
                raise LiveUnavailableError(f"invalid Redis Cluster URL {masked!r}: {exc}") from None

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> Any:
        common: dict[str, Any] = dict(
            socket_timeout=self.options.socket_timeout,
            socket_connect_timeout=self.options.connect_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        if self.cluster:
            # the cluster client keeps its own retry: with none, it gives up on the first (dead)
            # startup node instead of asking the next one for the topology
            del common["retry"]
            nodes, auth = cluster_nodes(self._raw_url)
            return RedisCluster(
                startup_nodes=nodes,
                require_full_coverage=False,
                **auth,
                **common,
            )
        return redis.Redis.from_url(self._raw_url, **common)

    def _connect_async(self) -> Any:
        common: dict[str, Any] = dict(
            socket_timeout=self.options.socket_timeout,
            socket_connect_timeout=self.options.connect_timeout,
            decode_responses=True,
        )
        if self.cluster:
            nodes, auth = cluster_nodes(self._raw_url)
            return AsyncRedisCluster(
                startup_nodes=[aredis.cluster.ClusterNode(n.host, n.port) for n in nodes],
                require_full_coverage=False,
                **auth,
                **common,
            )
        return aredis.Redis.from_url(self._raw_url, retry=AsyncRetry(NoBackoff(), 0), **common)

    async def _arun(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """The async twin of _run: one awaited call on the asyncio client, same errors."""
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
            await self._adrop()
            raise LiveUnavailableError(
                f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
            ) from None

    async def _adrop(self) -> None:
        client, self._async = self._async, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _aeval(self, client: Any, source: str, keys: list[str], args: list[Any]) -> Any:
        sha = _SHA.get(source)
        if sha is None:
            sha = _SHA[source] = hashlib.sha1(source.encode()).hexdigest()
        try:
            return await client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(source, len(keys), *keys, *args)

    def _run(self, what: str, fn: Callable[[Any], T]) -> T:
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
                self._drop_client()  # the next call reads the topology again
            raise LiveUnavailableError(
                f"live store {self.url} unavailable ({what}): {type(exc).__name__}: {exc}"
            ) from None

    def _drop_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken client must not mask the first error
                client.close()

    def _script(self, client: Any, source: str) -> Callable[..., Any]:
        """EVALSHA, falling back to EVAL (which caches the script on that node). Not redis-py's
        Script: on a cluster its SCRIPT LOAD goes to every master and fails while one is down."""
        sha = _SHA.get(source)
        if sha is None:
            sha = _SHA[source] = hashlib.sha1(source.encode()).hexdigest()

        def call(keys: list[str], args: list[Any]) -> Any:
            try:
                return client.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:
                return client.eval(source, len(keys), *keys, *args)

        return call

    def _key(self, name: str) -> str:
        return self.prefix + name

    def ping(self) -> None:
        self._run("PING", lambda c: c.ping())

    # -- checkpoint and counters --------------------------------------------------------------
    def _cp_key(self, tailer: str) -> str:
        return self.prefix + "cp:" + tailer

    def load_checkpoint(self, tailer: str) -> LiveCheckpoint | None:
        stored: dict[str, str] = self._run("load checkpoint", lambda c: c.hgetall(self._cp_key(tailer)))
        return _checkpoint(stored)

    def init_checkpoint(self, tailer: str, offsets: Mapping[str, int], epoch: str) -> LiveCheckpoint:
        args: list[str] = [epoch]
        for file, offset in offsets.items():
            args += [file, str(offset)]
        key = self._cp_key(tailer)
        flat: list[str] = self._run(
            "init checkpoint", lambda c: self._script(c, lua.INIT_CHECKPOINT)(keys=[key], args=args)
        )
        cp = _checkpoint(dict(zip(flat[::2], flat[1::2], strict=True)))
        assert cp is not None
        return cp

    def apply(
        self, tailer: str, epoch: str, base: Mapping[str, int], new: Mapping[str, int], delta: LiveDelta
    ) -> None:
        payload = _encode(
            {
                "epoch": epoch,
                "threshold": EXACT_THRESHOLD,
                "base": {f: str(o) for f, o in base.items()},
                "new": {f: str(o) for f, o in new.items()},
                "counters": [
                    [name, delta.expire_at[name], [x for k, n in row.items() for x in (k, n)]]
                    for name, row in delta.counters.items()
                ],
                "distinct": [
                    [name, delta.expire_at[name], list(members)] for name, members in delta.distinct.items()
                ],
            }
        )
        key = self._cp_key(tailer)
        self._run("apply", lambda c: self._script(c, lua.APPLY)(keys=[key], args=[payload, self.prefix]))

    def reset(self, tailer: str) -> None:
        def drop(c: Any) -> None:
            keys = list(c.scan_iter(match=self.prefix + "*", count=1000))
            for i in range(0, len(keys), 500):  # one hash tag, one slot: a multi-key DEL is fine
                c.delete(*keys[i : i + 500])

        self._run("reset", drop)

    def union_count(self, names: Sequence[str]) -> int:
        key = self._cp_key("live")
        return int(
            self._run(
                "count", lambda c: self._script(c, lua.UNION_COUNT)(keys=[key], args=[self.prefix, *names])
            )
        )

    def counts(self, names: Sequence[str]) -> list[int]:
        if not names:
            return []
        key = self._cp_key("live")
        out = self._run(
            "counts", lambda c: self._script(c, lua.COUNTS)(keys=[key], args=[self.prefix, *names])
        )
        return [int(x) for x in out]

    def counter(self, name: str) -> dict[str, int]:
        row: dict[str, str] = self._run("read counter", lambda c: c.hgetall(self._key("c:" + name)))
        return {k: int(v) for k, v in row.items()}

    # -- the same reads for the API's event loop: one round trip each, no thread -------------
    async def aunion_count(self, names: Sequence[str]) -> int:
        key = self._cp_key("live")
        args = [self.prefix, *names]
        return int(await self._arun("count", lambda c: self._aeval(c, lua.UNION_COUNT, [key], args)))

    async def acounts(self, names: Sequence[str]) -> list[int]:
        if not names:
            return []
        key = self._cp_key("live")
        args = [self.prefix, *names]
        out = await self._arun("counts", lambda c: self._aeval(c, lua.COUNTS, [key], args))
        return [int(x) for x in out]

    async def acounter(self, name: str) -> dict[str, int]:
        row: dict[str, str] = await self._arun("read counter", lambda c: c.hgetall(self._key("c:" + name)))
        return {k: int(v) for k, v in row.items()}

    async def aclose(self) -> None:
        await self._adrop()

    # -- sticky buckets -------------------------------------------------------------------------
    def _sticky_key(self, key: str) -> str:
        return f"{self.namespace}:sticky:{{{key}}}"

    def get_sticky(self, key: str) -> dict[str, str]:
        out: dict[str, str] = self._run("read sticky bucket", lambda c: c.hgetall(self._sticky_key(key)))
        return out

    def save_sticky(self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None) -> None:
        if not assignments:
            return
        name = self._sticky_key(key)

        def save(c: Any) -> None:
            _sticky_pipeline(c, name, assignments, ttl_seconds).execute()

        self._run("save sticky bucket", save)

    async def aget_sticky(self, key: str) -> dict[str, str]:
        name = self._sticky_key(key)
        out: dict[str, str] = await self._arun("read sticky bucket", lambda c: c.hgetall(name))
        return out

    async def asave_sticky(
        self, key: str, assignments: Mapping[str, str], ttl_seconds: int | None = None
    ) -> None:
        if not assignments:
            return
        name = self._sticky_key(key)

        async def save(c: Any) -> None:
            await _sticky_pipeline(c, name, assignments, ttl_seconds).execute()

        await self._arun("save sticky bucket", save)

    # -- audience membership ------------------------------------------------------------------
    def user_key(self, user: str) -> str:
        """The set of a user's audiences (tagged by user: a cluster spreads users)."""
        return f"{self.namespace}:aud:{{{user}}}"

    def audience_key(self, audience: str) -> str:
        """The set of an audience's members."""
        return f"{self.namespace}:members:{{{audience}}}"

    _user_key = user_key  # the names older callers use
    _audience_key = audience_key

    def run(self, what: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` on the blocking client, every failure as LiveUnavailableError (or
        LiveConflictError): for state kept beside the live store's own (audiences)."""
        return self._run(what, fn)

    def open_async_client(self, socket_timeout: float, connect_timeout: float) -> Any:
        """A redis.asyncio client (cluster or not) of its own for a hot read path (enrichment)."""
        common: dict[str, Any] = dict(
            socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout, decode_responses=True
        )
        if self.cluster:
            nodes, auth = cluster_nodes(self._raw_url)
            return AsyncRedisCluster(
                startup_nodes=[aredis.cluster.ClusterNode(n.host, n.port) for n in nodes], **auth, **common
            )
        return aredis.Redis.from_url(self._raw_url, **common)

    def audience_members(self, audience: str) -> set[str]:
        key = self.audience_key(audience)
        return set(self._run("list members", lambda c: set(c.sscan_iter(key, count=1000))))

    def add_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("add members", "sadd", audience, list(users))

    def remove_members(self, audience: str, users: Iterable[str]) -> None:
        self._members("remove members", "srem", audience, list(users))

    def _members(self, what: str, op: str, audience: str, users: list[str]) -> None:
        """Per-user sets first, then the audience's set: the per-user side is what enrichment reads."""
        if not users:
            return

        def run(c: Any) -> None:
            pipe = c.pipeline(transaction=False)
            for user in users:
                getattr(pipe, op)(self._user_key(user), audience)
            pipe.execute()
            for i in range(0, len(users), 1000):
                getattr(c, op)(self._audience_key(audience), *users[i : i + 1000])

        self._run(what, run)

    def audiences_of(self, user: str) -> set[str]:
        found: set[str] = self._run("read audiences", lambda c: c.smembers(self._user_key(user)))
        return set(found)

    def audience_size(self, audience: str) -> int:
        return int(self._run("count members", lambda c: c.scard(self._audience_key(audience))))

    def close(self) -> None:
        self._drop_client()


def _checkpoint(stored: dict[str, str]) -> LiveCheckpoint | None:
    if "_epoch" not in stored:
        return None
    epoch = stored.pop("_epoch")
    return LiveCheckpoint(epoch, {f: int(o) for f, o in stored.items()})


def _sticky_pipeline(client: Any, name: str, assignments: Mapping[str, str], ttl_seconds: int | None) -> Any:
    """The transaction that saves a sticky bucket (sync or asyncio client: the caller executes it)."""
    pipe = client.pipeline(transaction=True)
    pipe.hset(name, mapping=dict(assignments))
    if ttl_seconds is not None:
        pipe.expire(name, ttl_seconds)
    else:
        pipe.persist(name)
    return pipe
