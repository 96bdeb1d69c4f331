"""The live store: real-time counters, sticky buckets, the id map and audience membership.

``memory://`` (in-process, one worker only), ``redis://``, ``rediss://`` and ``redis+cluster://``
(``[user:password@]host:port[,host:port...]``); options in the query string: ``namespace`` (key
prefix and cluster hash tag, default ``hw``), and on ``redis://`` the rest goes to redis-py
(``?db=`` ...). ports.py declares the four ports; :func:`open_live` gives the backend of a URL.
"""

from __future__ import annotations

import importlib

from headwater.stores.live.ports import LiveBackend, LiveUnavailableError
from headwater.stores.registry import UnknownBackendError, backend_for, missing_extra


def open_live(url: str) -> LiveBackend:
    """The backend named by ``url`` (nothing is connected yet). LiveUnavailableError for an unknown
    scheme, a bad URL or a missing driver."""
    try:
        backend = backend_for(url, "live")
    except UnknownBackendError as exc:
        raise LiveUnavailableError(str(exc)) from None
    try:
        module = importlib.import_module(backend.module)
    except ImportError as exc:
        raise LiveUnavailableError(missing_extra(backend)) from exc
    opened: LiveBackend = module.open_backend(url)
    return opened
