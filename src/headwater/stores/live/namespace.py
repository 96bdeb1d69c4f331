"""The key namespace of a live store URL (``?namespace=``, default ``hw``): the prefix of every key,
and the cluster hash tag of the counters."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from headwater.stores.live.ports import LiveUnavailableError
from headwater.urls import mask_url

_NAMESPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


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
