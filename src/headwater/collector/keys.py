"""Write keys: where a request carries one, and a cache of the store's keys.

The collector never queries the store on the hot path: it refreshes its copy every
``keys_refresh_seconds`` in a thread (a store that is down leaves the last good copy in use),
and once more, at most every 100 ms, when it meets an unknown key, so a new key works at once
and a revoked one stops within the refresh period.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time

from headwater.stores.sql.ports import WriteKey, WriteKeyStore

log = logging.getLogger("headwater.collector.keys")


def key_from_headers(authorization: str | None, x_write_key: str | None) -> str | None:
    if x_write_key:
        return x_write_key.strip()
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user = decoded.split(":", 1)[0]
        return user or None
    return None


class KeyCache:
    def __init__(self, store: WriteKeyStore, refresh_seconds: float = 1.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._active: dict[str, WriteKey] = {}
        self._revoked: dict[str, WriteKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def load(self) -> None:
        keys = self.store.list_keys(include_revoked=True)
        self._active = {k.key: k for k in keys if k.active}
        self._revoked = {k.key: k for k in keys if not k.active}
        self._loaded_at = time.monotonic()

    async def refresh(self) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self.load)
            except Exception as exc:  # a store outage must not stop collection
                log.warning("write keys not refreshed, using the last copy: %s", exc)
                self._loaded_at = time.monotonic()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh()

    async def lookup(self, key: str) -> WriteKey | None:
        found = self._active.get(key)
        if found is not None:
            return found
        if key not in self._revoked and time.monotonic() - self._loaded_at > 0.1:
            await self.refresh()
            return self._active.get(key)
        return None

    def is_revoked(self, key: str) -> bool:
        return key in self._revoked
