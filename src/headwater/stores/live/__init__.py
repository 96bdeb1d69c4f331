"""The live store: real-time counters, sticky buckets and audience membership.

``memory://`` (in-process, one worker only), ``redis://`` and ``redis+cluster://``.
"""

from headwater.stores.live.base import (
    EXACT_THRESHOLD,
    LiveCheckpoint,
    LiveConflictError,
    LiveDelta,
    LiveStore,
    LiveTimeoutError,
    LiveUnavailableError,
)
from headwater.stores.live.opener import StoreOptions, is_in_process, open_live_store

__all__ = [
    "EXACT_THRESHOLD",
    "LiveCheckpoint",
    "LiveConflictError",
    "LiveDelta",
    "LiveStore",
    "LiveTimeoutError",
    "LiveUnavailableError",
    "StoreOptions",
    "is_in_process",
    "open_live_store",
]
