"""A person out of the live store: sticky buckets (their assignments), audience membership and
stamps, the id map, and any per-person key the counters keep (stores/live/ports.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from headwater.config import Settings
from headwater.stores.live.ports import StoreOptions

OPTIONS = StoreOptions(connect_timeout=2.0, socket_timeout=30.0)


def forget_live(settings: Settings, live: Any | None, ids: Collection[str]) -> int:
    """Keys and members removed. ``live`` is the process's own backend (``memory://`` lives in the
    server's process only); None opens the one the settings name."""
    from headwater.stores.live import open_live

    backend = live if live is not None else open_live(settings.redis_url)
    removed = 0
    for port in (
        backend.sticky_buckets(OPTIONS),
        backend.id_map(OPTIONS),
        backend.membership(OPTIONS),
        backend.counters(OPTIONS),
    ):
        try:
            removed += int(port.forget(ids))
        finally:
            port.close()
    return removed
