"""The running parts of one server process, in typed slots, and their lifecycle.

A :class:`Runtime` is built in one place (headwater.wiring) from the settings; HTTP handlers reach
each part through its slot (``runtime.live``, ``runtime.experiments`` ...), never by searching a
list. This module imports no feature when it runs: the slots' types are named for the type
checker only, so every feature can be used here without any feature depending on the runtime.

Every :class:`Service` is started in order and stopped in reverse, and each stops (cancels and
awaits) every task and thread it started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from headwater.admin_token import AdminToken
    from headwater.audiences.service import AudienceService
    from headwater.collector.keys import KeyCache
    from headwater.config import Settings
    from headwater.decisions.writer import DecisionLog
    from headwater.experiments.service import ExperimentsService
    from headwater.http.collect import CollectorApp
    from headwater.live.service import LiveService
    from headwater.log.writers import LogWriters
    from headwater.realtime.service import RealtimeQueries
    from headwater.stores.sql.accounts import SqlAccounts
    from headwater.stores.sql.database import SqlDatabase

log = logging.getLogger("headwater.process")


class Service(Protocol):
    """Something a server process runs in the background (a tailer, a schedule, a cache)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop every task and thread this service started, and wait for them."""
        ...

    def status(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details) for /readyz."""
        ...


@dataclass
class Runtime:
    settings: Settings
    admin_token: AdminToken
    log: LogWriters
    database: SqlDatabase  # the write keys' connection
    keys: KeyCache
    collector: CollectorApp
    realtime: RealtimeQueries | None = None
    live: LiveService | None = None
    experiments: ExperimentsService | None = None
    audiences: AudienceService | None = None
    decisions: DecisionLog | None = None  # the OpenRTB decision log (HTTP workers, sample > 0)
    accounts: SqlAccounts | None = None  # users, sessions, API tokens, the audit log (on ``database``)
    #: every service of this process, in start order (the slots above among them)
    services: list[Service] = field(default_factory=list)

    async def start(self) -> None:
        started: list[Service] = []
        try:
            for service in self.services:
                await service.start()
                started.append(service)
        except BaseException:
            await _stop_all(started)
            raise

    async def stop(self) -> None:
        await _stop_all(self.services)
        await self.keys.stop()
        try:
            await self.log.close()
        finally:
            self.database.close()

    def statuses(self) -> dict[str, tuple[bool, dict[str, Any]]]:
        return {service.name: service.status() for service in self.services}


async def _stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            await service.stop()
        except Exception:
            log.exception("service %s did not stop cleanly", service.name)
