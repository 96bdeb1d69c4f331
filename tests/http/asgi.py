"""The whole server application in this process: its lifespan run by hand (startup, shutdown) and
requests sent through httpx's ASGI transport, no socket and no subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from headwater.config import Settings
from headwater.http.app import create_app
from headwater.runtime import Runtime
from headwater.stores.sql.database import open_database
from headwater.stores.sql.keys import SqlWriteKeys

TOKEN = "in-process-admin-token-1234567890"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Running:
    client: httpx.AsyncClient
    runtime: Runtime
    write_key: str

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def until(self, check: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Poll an (async) check until it returns something truthy; fail with its last value."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout} s: {value!r}")
            await asyncio.sleep(0.05)


class _Lifespan:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def _send(self, message: dict[str, Any]) -> None:
        await self.outbox.put(message)

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self._receive, self._send))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the application did not start: {message}")

    async def shutdown(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        message = await self.outbox.get()
        assert message["type"] == "lifespan.shutdown.complete", message
        assert self.task is not None
        await self.task


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, admin_token=TOKEN, writer_id="inproc", **overrides)


@contextlib.asynccontextmanager
async def running(data_dir: Path, **overrides: Any) -> AsyncIterator[Running]:
    """The application of a one-process server over ``data_dir`` (SQLite, memory://), started."""
    settings = settings_for(data_dir, **overrides)
    db = open_database(settings.effective_database_url)
    try:
        key = SqlWriteKeys(db).create_key("in-process").key
    finally:
        db.close()
    threshold = gc.get_threshold()
    app = create_app(settings)
    lifespan = _Lifespan(app)
    await lifespan.startup()
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://headwater.test") as client:
            yield Running(client, app.runtime, key)
    finally:
        await lifespan.shutdown()
        gc.unfreeze()  # the server tunes the collector for its own process: undo it for the tests
        gc.set_threshold(*threshold)


def run(tmp_path: Path, scenario: Callable[[Running], Awaitable[None]], **settings: Any) -> None:
    """Run ``scenario`` against the application of a one-process server over ``tmp_path/data``."""

    async def main() -> None:
        async with running(tmp_path / "data", **settings) as hw:
            await scenario(hw)

    asyncio.run(main())
