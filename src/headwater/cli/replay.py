"""`headwater tail NAME` and `headwater replay realtime|live|audiences|all`: rebuild a derived store
from the log, by this process when no server runs the tailer, else by the server (online)."""

from __future__ import annotations

import signal
import threading
import time
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from headwater.cli.common import DataDir, err, fail, realtime_store, settings_of
from headwater.log.tailing.rebuild import (
    Rebuild,
    RebuildResult,
    pending_rebuild,
    rebuilt_since,
    request_rebuild,
)
from headwater.log.tailing.service import StatusFile, TailerLock, TailerMetrics
from headwater.log.tailing.tailer import Tailer

replay_app = typer.Typer(
    help="Rebuild a derived store from the event log, the server running or not.", no_args_is_help=True
)
#: how long `replay` follows a running server's rebuild before it says where to look
REBUILD_TIMEOUT_SECONDS = 3600.0
TAILERS = ("realtime",)


def tail(
    name: Annotated[str, typer.Argument(help=f"Tailer to run: {', '.join(TAILERS)}.")],
    data_dir: DataDir = None,
) -> None:
    """Run a tailer in this process (instead of inside `headwater serve`) until stopped."""
    from headwater.ops.logs import configure_logging
    from headwater.realtime.rows import LoggedEvent
    from headwater.realtime.target import RealtimeTarget

    if name not in TAILERS:
        err.print(f"[red]error:[/] unknown tailer {name!r}: expected one of {', '.join(TAILERS)}")
        raise typer.Exit(2)
    settings = settings_of(data_dir=data_dir)
    configure_logging(settings.log_level)
    lock = TailerLock(settings.run_dir, name)
    if not lock.try_acquire():
        err.print(f"[red]error:[/] tailer {name!r} is already running (process {lock.holder()})")
        raise typer.Exit(1)
    store = realtime_store(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    err.print(f"tailing {settings.log_dir} into {name} (Ctrl-C to stop)")
    target = RealtimeTarget(store, ZoneInfo(settings.timezone), log_dir=settings.log_dir)
    tailer = Tailer(name, settings.log_dir, target, LoggedEvent, on_step=TailerMetrics(name))
    try:
        tailer.run(stop)
    finally:
        store.close()
        lock.release()
    err.print(f"stopped: {tailer.status.applied_events} events applied")


FromOpt = Annotated[
    str | None, typer.Option("--from", help="Rebuild only days >= this date (YYYY-MM-DD; realtime only).")
]
REBUILDABLE = ("realtime", "live", "audiences")
READY_CHECKS = {"realtime": "tailer_realtime", "live": "live", "audiences": "audiences"}  # in /readyz


def _rebuild_of(name: str, settings: Any) -> Rebuild | None:
    """The rebuild of a derived store when no server runs it; None for a store that lives in the
    server process (memory://: rebuilt from the log when the server starts)."""
    from headwater.stores.registry import backend_for

    if name == "realtime":
        from headwater.realtime.replay import rebuild_realtime

        return rebuild_realtime(settings)
    if backend_for(settings.redis_url, "live").in_process:
        return None
    from headwater.stores.live import open_live

    live = open_live(settings.redis_url)
    if name == "live":
        from headwater.live.service import rebuild_live

        return rebuild_live(settings, live)
    from headwater.audiences.definitions import Definitions
    from headwater.audiences.service import rebuild_audiences
    from headwater.stores.sql.audiences import AudienceCatalog

    return rebuild_audiences(settings, live, Definitions(AudienceCatalog(settings.effective_database_url)))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%  {task.fields[events]} events"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _offline(name: str, rebuild: Rebuild, from_day: date | None) -> None:
    with _progress() as progress:
        task = progress.add_task(f"rebuilding {name}", total=None, events=0)
        seen = {"total": 0}

        def on_step(tailer: Tailer[Any]) -> None:
            st = tailer.status
            if not seen["total"]:
                seen["total"] = st.lag_bytes or 1
                progress.update(task, total=seen["total"])
            progress.update(task, completed=seen["total"] - st.lag_bytes, events=st.applied_events)

        result = rebuild(from_day, threading.Event(), on_step)
        progress.update(task, completed=seen["total"] or 1, total=seen["total"] or 1)
    err.print(f"{name}: {_what(result)}")


def _what(result: RebuildResult) -> str:
    return (
        f"replayed {result.applied_lines} events; {result.quarantined} lines quarantined;"
        f" {result.suppressed} events of suppressed people skipped"
    )


def _online(name: str, settings: Any, from_day: date | None, holder: str) -> None:
    """The running server rebuilds (collection goes on): ask it, then follow its tailer's status."""
    status = StatusFile(settings.run_dir, name)
    err.print(
        f"{name}: the server (process {holder}) runs this tailer: it rebuilds the store itself "
        "while it goes on collecting; following its progress (Ctrl-C stops following, not the rebuild)"
    )
    asked = request_rebuild(settings.run_dir, name, from_day)
    deadline = time.monotonic() + REBUILD_TIMEOUT_SECONDS
    with _progress() as progress:
        task = progress.add_task(f"rebuilding {name}", total=None, events=0)
        total = 0
        while time.monotonic() < deadline:
            current = status.read()
            pending = pending_rebuild(settings.run_dir, name)[0]
            written = time.time() - float(current.get("status_age_seconds", 1e9)) if current else 0.0
            if current is not None and written >= asked:
                lag = int(current.get("lag_bytes") or 0)
                total = max(total, lag)
                progress.update(
                    task, total=total or 1, completed=total - lag, events=current.get("applied_events", 0)
                )
                if not pending and current.get("state") == "caught_up":
                    progress.update(task, total=total or 1, completed=total or 1)
                    said = rebuilt_since(settings.run_dir, name, asked)
                    applied = f"{current.get('applied_events', 0)} events applied"
                    # (a server from before the result file says what it applied only)
                    err.print(f"{name}: rebuilt by the server, " + (applied if said is None else _what(said)))
                    return
            time.sleep(0.25)
    fail(
        f"{name}: the server did not finish the rebuild within {REBUILD_TIMEOUT_SECONDS:.0f} s; it goes on: "
        f"see GET /readyz (checks.{READY_CHECKS[name]})",
        code=1,
    )


def _replay(names: tuple[str, ...], from_text: str | None, data_dir: Any) -> None:
    from_day = None
    if from_text:
        if names != ("realtime",):
            fail("--from applies to realtime only (the live store keeps 48 hours; audiences all of it)")
        try:
            from_day = date.fromisoformat(from_text)
        except ValueError:
            fail(f"--from {from_text!r} is not a date (YYYY-MM-DD)")
    settings = settings_of(data_dir=data_dir)
    for name in names:
        lock = TailerLock(settings.run_dir, name)
        if not lock.try_acquire():
            _online(name, settings, from_day, lock.holder())
            continue
        try:
            rebuild = _rebuild_of(name, settings)
            if rebuild is None:
                err.print(
                    f"{name}: the live store is memory:// (inside the server process): it is rebuilt from "
                    "the log whenever the server starts; nothing to do"
                )
                continue
            _offline(name, rebuild, from_day)
        finally:
            lock.release()


@replay_app.command("realtime")
def replay_realtime_cmd(from_date: FromOpt = None, data_dir: DataDir = None) -> None:
    """Rebuild the realtime store (daily_stats, daily_users, user_sessions) from the log."""
    _replay(("realtime",), from_date, data_dir)


@replay_app.command("live")
def replay_live_cmd(data_dir: DataDir = None) -> None:
    """Rebuild the live counters (the last 48 hours) from the log."""
    _replay(("live",), None, data_dir)


@replay_app.command("audiences")
def replay_audiences_cmd(data_dir: DataDir = None) -> None:
    """Rebuild audience membership, stamps and the id map from the log."""
    _replay(("audiences",), None, data_dir)


@replay_app.command("all")
def replay_all_cmd(data_dir: DataDir = None) -> None:
    """Rebuild every derived store from the log: realtime, live, audiences."""
    _replay(REBUILDABLE, None, data_dir)


def register(app: typer.Typer) -> None:
    app.add_typer(replay_app, name="replay")
    app.command("tail")(tail)
