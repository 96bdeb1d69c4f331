"""Sticky buckets in the live store (memory://, redis://, redis+cluster://), as GrowthBook lays them out.

One live-store document per user (hash attribute + value: ``id||u1``), one field per experiment phase
(``checkout__0`` -> variation key), plus the exposure marker of that phase (``x:checkout__0``), so
serving a returning user is one read. `LiveStickyBucketStore` is the plain `StickyBucketStore` over it.
Only the live store's sticky-bucket port is used (its awaited reads and writes on the HTTP path: no
blocking call on the event loop): any live store works.
"""

from __future__ import annotations

from collections.abc import Mapping

from headwater.experiments.sticky import StickyKey
from headwater.stores.live.ports import LiveUnavailableError, StickyBuckets

EXPOSED_PREFIX = "x:"


class StickyRestoring(LiveUnavailableError):
    """Assignments wait: the sticky buckets are being restored from the log (sticky_restore.py)."""


def exposure_field(key: StickyKey) -> str:
    """The field marking that this user's exposure in this experiment phase is in the event log."""
    return EXPOSED_PREFIX + key.assignment_id()


class LiveStickyBucketStore:
    """`StickyBucketStore` over a live store; documents expire after ``ttl_seconds`` (None: never)."""

    def __init__(self, store: StickyBuckets, ttl_seconds: int | None = None) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    def document(self, user_id: str) -> dict[str, str]:
        """Every field of one user's document: assignments and exposure markers."""
        return self.store.get(user_id)

    def write(self, user_id: str, fields: Mapping[str, str]) -> None:
        if fields:
            self.store.save(user_id, fields, self.ttl_seconds)

    async def adocument(self, user_id: str) -> dict[str, str]:
        """The document, verified: StickyRestoring while the store cannot vouch for it (nobody is
        assigned afresh before the lost assignments are back from the log)."""
        found = await self.store.aget_verified(user_id)
        if found is None:
            raise StickyRestoring(
                f"the sticky buckets in {self.store.url} are being restored from the event log"
            )
        return found

    async def awrite(self, user_id: str, fields: Mapping[str, str]) -> None:
        if fields:
            await self.store.asave(user_id, fields, self.ttl_seconds)

    def get(self, key: StickyKey) -> str | None:
        return self.document(key.user_id()).get(key.assignment_id())

    def save(self, key: StickyKey, variation_key: str) -> None:
        self.write(key.user_id(), {key.assignment_id(): variation_key})
