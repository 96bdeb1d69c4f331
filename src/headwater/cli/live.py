"""`headwater live today|active-users|hourly|reset`: the live store from the command line.

The JSON (``--json``) is the API's; the store is the one of HEADWATER_REDIS_URL. ``memory://``
lives inside the server process, so these commands need Redis.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from headwater.cli.common import DataDir, err, fail, settings_of, shared_live_store

live_app = typer.Typer(help="Live counters in the live store (Redis).", no_args_is_help=True)


def _run(data_dir: Path | None, fn: Any) -> Any:
    from headwater.live.service import TAILER_OPTIONS
    from headwater.stores.live.ports import LiveUnavailableError

    settings = settings_of(data_dir=data_dir)
    counters = shared_live_store(settings).counters(TAILER_OPTIONS)
    try:
        return fn(counters, settings)
    except LiveUnavailableError as exc:
        fail(str(exc), code=1)
    finally:
        counters.close()


def _print(body: dict[str, Any]) -> None:
    print(json.dumps(body, indent=2))


@live_app.command("today")
def today_command(data_dir: DataDir = None) -> None:
    """Today's events and unique users per tool_id, and open sessions (JSON)."""
    from headwater.live import queries

    def fn(store: Any, settings: Any) -> Any:
        now = datetime.now(UTC)
        day = now.astimezone(ZoneInfo(settings.timezone)).date()
        return queries.today(store, day, settings.timezone, now)

    _print(_run(data_dir, fn))


@live_app.command("active-users")
def active_users_command(
    window: Annotated[str, typer.Option(help="5m, 1h or 24h.")] = "5m", data_dir: DataDir = None
) -> None:
    """Distinct users over the last 5 minutes, hour or 24 hours (JSON)."""
    from headwater.live import queries
    from headwater.live.buckets import WINDOWS

    if window not in WINDOWS:
        err.print(f"[red]error:[/] --window must be one of {', '.join(WINDOWS)}")
        raise typer.Exit(2)
    _print(_run(data_dir, lambda store, s: queries.active_users(store, window, datetime.now(UTC))))


@live_app.command("hourly")
def hourly_command(
    hour: Annotated[str | None, typer.Option(help="YYYY-MM-DDTHH (UTC); default: this hour.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Events and unique users of one UTC hour per tool_id and event_type (JSON)."""
    from headwater.live import queries

    try:
        moment = (
            datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
            if hour
            else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        )
    except ValueError:
        err.print(f"[red]error:[/] --hour must be YYYY-MM-DDTHH, got {hour!r}")
        raise typer.Exit(2) from None
    _print(_run(data_dir, lambda store, s: queries.hourly(store, moment)))


@live_app.command("reset")
def reset_command(
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Forget the live counters and checkpoint: the live tailer rebuilds the last 48 h from the log."""
    from headwater.live.buckets import LIVE_TAILER

    if not yes:
        typer.confirm("Forget every live counter (rebuilt from the log)?", abort=True)
    _run(data_dir, lambda store, s: store.reset(LIVE_TAILER))
    err.print("live counters forgotten; the live tailer rebuilds them from the log")


def register(app: typer.Typer) -> None:
    app.add_typer(live_app, name="live")
