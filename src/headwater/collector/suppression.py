"""Suppressed people, as the collector sees them (docs/privacy.md): the keyed hashes of their ids,
re-read every second, and a check of one event against them. With nobody suppressed the check is
one test of an empty set."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from typing import Any

from headwater.stores.sql.privacy import SqlPrivacy

log = logging.getLogger("headwater.privacy")
REFRESH_SECONDS = 1.0


class Suppression:
    """A Service (runtime.py) and the collector's check."""

    name = "suppression"

    def __init__(self, privacy: SqlPrivacy) -> None:
        self.privacy = privacy
        self.hashes: frozenset[str] = frozenset()
        self._key = b""
        self._task: asyncio.Task[None] | None = None
        self._error = ""

    def load(self) -> None:
        self._key = self.privacy.key()
        self.hashes = self.privacy.suppressed()

    def is_suppressed(self, value: str) -> bool:
        """Whether one id is a suppressed person's."""
        if not self.hashes or not value:
            return False
        digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return digest in self.hashes

    def hit(self, event: dict[str, Any]) -> bool:
        """Whether the event's userId or anonymousId is a suppressed person's."""
        if not self.hashes:
            return False
        for field in ("userId", "anonymousId"):
            value = event.get(field)
            if isinstance(value, str) and value:
                digest = hmac.new(
                    self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256
                ).hexdigest()
                if digest in self.hashes:
                    return True
        return False

    async def start(self) -> None:
        await asyncio.to_thread(self.load)
        self._task = asyncio.create_task(self._loop(), name="suppression-refresh")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await asyncio.to_thread(self.load)
                self._error = ""
            except Exception as exc:  # the store is away: keep the last list, say so once
                if not self._error:
                    log.warning("cannot re-read the suppression list: %s", exc)
                self._error = str(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> tuple[bool, dict[str, Any]]:
        return True, {"suppressed_ids": len(self.hashes), "error": self._error or None}
