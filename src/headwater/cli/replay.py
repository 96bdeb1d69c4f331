"""`headwater tail NAME` and `headwater replay realtime [--from DATE]`."""

from __future__ import annotations

import signal
import threading
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from headwater.cli.common import DataDir, err, realtime_store, settings_of
from headwater.log.tailing.service import TailerLock, TailerMetrics
from headwater.log.tailing.tailer import Tailer

replay_app = typer.Typer(help="Rebuild a derived store from the event log.", no_args_is_help=True)
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
    target = RealtimeTarget(store, ZoneInfo(settings.timezone))
    tailer = Tailer(name, settings.log_dir, target, LoggedEvent, on_step=TailerMetrics(name))
    try:
        tailer.run(stop)
    finally:
        store.close()
        lock.release()
    err.print(f"stopped: {tailer.status.applied_events} events applied")


@replay_app.command("realtime")
def replay_realtime_cmd(
    from_date: Annotated[
        str | None, typer.Option("--from", help="Rebuild only days >= this date (YYYY-MM-DD).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Rebuild the realtime store (daily_stats, daily_users, user_sessions) from the log."""
    from headwater.realtime.replay import TailerBusyError, replay_realtime

    from_day = None
    if from_date:
        try:
            from_day = date.fromisoformat(from_date)
        except ValueError:
            err.print(f"[red]error:[/] --from {from_date!r} is not a date (YYYY-MM-DD)")
            raise typer.Exit(2) from None
    settings = settings_of(data_dir=data_dir)
    store = realtime_store(settings)
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%  {task.fields[events]} events"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task = progress.add_task("replay", total=None, events=0)
    seen = {"total": 0}

    def on_step(tailer: Tailer[Any]) -> None:
        st = tailer.status
        if not seen["total"]:
            seen["total"] = st.lag_bytes or 1
            progress.update(task, total=seen["total"])
        progress.update(task, completed=seen["total"] - st.lag_bytes, events=st.applied_events)

    try:
        with progress:
            result = replay_realtime(settings, store, from_day, on_step=on_step)
    except TailerBusyError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    err.print(f"replayed {result.applied_lines} events; {result.quarantined} lines quarantined")


def register(app: typer.Typer) -> None:
    app.add_typer(replay_app, name="replay")
    app.command("tail")(tail)
