"""Background services that run inside each `headwater serve` worker (tailers, schedulers).

A concern adds itself by appending a factory to FACTORIES; a factory gets the Runtime and
returns a Service, or None when it does not apply (e.g. only worker 0 runs the scheduler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from headwater.server.app import Runtime


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details) for /readyz."""
        ...


ServiceFactory = Callable[["Runtime"], "Service | None"]

FACTORIES: list[ServiceFactory] = []


def api_route_modules() -> list[Any]:
    """The modules whose routes() are mounted (imported lazily to keep start-up light)."""
    import importlib

    names: list[str] = ["headwater.api.realtime", "headwater.api.metrics", "headwater.api.live"]
    names += ["headwater.api.openrtb", "headwater.api.audiences"]
    names += ["headwater.api.dashboard", "headwater.dashboard.routes"]
    names += ["headwater.api.experiments"]
    return [importlib.import_module(n) for n in names]


from headwater.realtime.service import queries_factory, tailer_factory  # noqa: E402

FACTORIES.append(tailer_factory)
FACTORIES.append(queries_factory)

from headwater.batch.scheduler import scheduler_factory  # noqa: E402

FACTORIES.append(scheduler_factory)

from headwater.live.service import live_factory  # noqa: E402

FACTORIES.append(live_factory)

from headwater.audiences.service import audiences_factory  # noqa: E402

FACTORIES.append(audiences_factory)

from headwater.experiments.service import experiments_factory  # noqa: E402

FACTORIES.append(experiments_factory)

from headwater.dashboard.warmup import warmup_factory  # noqa: E402

FACTORIES.append(warmup_factory)  # last: it reads the experiments service
