"""Opening the live store named by a URL: ``memory://``, ``redis://``, ``rediss://``,
``redis+cluster://[user:password@]host:port[,host:port...]``.

Options in the query string: ``namespace`` (key prefix and cluster hash tag, default ``hw``);
on ``redis://`` the rest of the query goes to redis-py (``?db=`` etc.).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from headwater.stores.live.base import LiveStore, LiveUnavailableError
from headwater.urls import mask_url

SCHEMES = ("memory", "redis", "rediss", "redis+cluster")
_NAMESPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

_memory_lock = threading.Lock()
_memory_stores: dict[str, LiveStore] = {}


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Network timeouts: short for the API (fail fast, answer 503), longer for the tailer."""

    connect_timeout: float = 2.0
    socket_timeout: float = 10.0


def is_in_process(url: str) -> bool:
    return urlsplit(url).scheme == "memory"


def split_namespace(url: str) -> tuple[str, str]:
    """(the URL without our own query options, the namespace)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    namespace = "hw"
    rest = []
    for key, value in query:
        if key == "namespace":
            namespace = value
        else:
            rest.append((key, value))
    if not namespace or not set(namespace) <= _NAMESPACE_CHARS:
        raise LiveUnavailableError(
            f"invalid namespace {namespace!r} in live store URL {mask_url(url)!r}: use letters, digits, - _ ."
        )
    return urlunsplit(parts._replace(query=urlencode(rest))), namespace


def open_live_store(url: str, options: StoreOptions | None = None) -> LiveStore:
    """Open (without connecting yet for Redis) the store named by ``url``.

    ``memory://`` stores are per process and per URL: the tailer and the API of one worker share
    the same one. Raises LiveUnavailableError for an unknown scheme or a missing driver.
    """
    opts = options or StoreOptions()
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise LiveUnavailableError(
            f"unsupported live store URL {mask_url(url)!r}: use memory://, redis://host:port/db "
            "or redis+cluster://host:port[,host:port...]"
        )
    plain, namespace = split_namespace(url)
    if scheme == "memory":
        from headwater.stores.live.memory import MemoryLiveStore

        with _memory_lock:
            store = _memory_stores.get(url)
            if store is None:
                store = _memory_stores[url] = MemoryLiveStore(mask_url(url))
            return store
    try:
        from headwater.stores.live.redis import RedisLiveStore
    except ImportError as exc:
        raise LiveUnavailableError(
            "Redis support is not installed: pip install 'headwater[redis]' (the 'redis' extra)"
        ) from exc
    return RedisLiveStore(plain, namespace, opts, masked=mask_url(url))
