"""Write keys: where a request carries one, and a cache of the store's keys.

The collector never queries the store on the hot path: it refreshes its copy every
``keys_refresh_seconds`` in a thread (a store that is down leaves the last good copy in use).
A request with a key the copy does not know waits for a read of the store that started after the
request arrived (at most one every 100 ms, shared by every request waiting), so a key created
before the request always works, and a revoked one stops within the refresh period.
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

#: An unknown key makes the cache read the store again at most this often (shared by the requests).
MIN_RELOAD_SECONDS = 0.1


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
        self._load_started = 0.0  # monotonic time the last completed load began
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def load(self) -> None:
        started = time.monotonic()
        keys = self.store.list_keys(include_revoked=True)
        self._active = {k.key: k for k in keys if k.active}
        self._revoked = {k.key: k for k in keys if not k.active}
        self._load_started = started

    async def refresh(self, since: float | None = None) -> None:
        """Read the keys again; with ``since``, only if no read that began at or after that moment
        has completed meanwhile (then at most one read per MIN_RELOAD_SECONDS)."""
        async with self._lock:  # loads run one at a time: a completed one is visible here
            if since is not None:
                if self._load_started >= since:
                    return
                wait = self._load_started + MIN_RELOAD_SECONDS - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                await asyncio.to_thread(self.load)
            except Exception as exc:  # a store outage must not stop collection
                log.warning("write keys not refreshed, using the last copy: %s", exc)
                self._load_started = time.monotonic()

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
        if found is not None or key in self._revoked:
            return found
        await self.refresh(since=time.monotonic())
        return self._active.get(key)

    def is_revoked(self, key: str) -> bool:
        return key in self._revoked
