"""`headwater db upgrade` and `headwater realtime daily|sessions` (same JSON as the API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

db_app = typer.Typer(help="The realtime store's database.", no_args_is_help=True)
realtime_app = typer.Typer(help="Real-time aggregates (today's usage, sessions).", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded storage root (env HEADWATER_DATA_DIR).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending schema migrations to the realtime store (serve also does it at start)."""
    from headwater.cli import _settings
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.ports import StoreUnavailableError
    from headwater.urls import mask_url

    settings = _settings(data_dir=data_dir)
    try:
        store = open_database(settings.effective_database_url, migrate=False)
    except StoreUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        applied = store.upgrade()
        version = store.schema_version()
    finally:
        store.close()
    url = mask_url(settings.effective_database_url)
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))} to {url}; schema version {version}")
    else:
        print(f"{url} is up to date (schema version {version})")


@realtime_app.command("daily")
def realtime_daily(
    date_text: Annotated[
        str | None, typer.Option("--date", help="Day (YYYY-MM-DD) in the project time zone; default today.")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Events per tool_id and event_type, and unique users, of one day."""
    from headwater.api.auth import ApiError
    from headwater.api.realtime import daily_json, parse_day
    from headwater.cli import _settings, _store

    settings = _settings(data_dir=data_dir)
    try:
        day = parse_day(date_text, settings.timezone)
    except ApiError as exc:
        err.print(f"[red]error:[/] --date: {exc.message}")
        raise typer.Exit(2) from None
    store = _store(settings)
    try:
        body = daily_json(store.daily(day), settings.timezone)
    finally:
        store.close()
    if as_json:
        print(json.dumps(body, indent=2))
        return
    table = Table("tool_id", "event_type", "count", title=f"{body['date']} ({body['tz']})")
    for row in body["rows"]:
        table.add_row(row["tool_id"] or "(none)", row["event_type"], str(row["count"]))
    Console().print(table)
    print(f"events: {body['events']}  unique users: {body['unique_users']}")


@realtime_app.command("sessions")
def realtime_sessions(
    active: Annotated[bool, typer.Option("--active", help="Only sessions active now.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many sessions to list.")] = 100,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest sessions (or only the active ones) and how many there are."""
    from headwater.api.realtime import sessions_json
    from headwater.cli import _settings, _store

    store = _store(_settings(data_dir=data_dir))
    try:
        body = sessions_json(store, active, limit)
    finally:
        store.close()
    if as_json:
        print(json.dumps(body, indent=2))
        return
    table = Table("session_id", "user_id", "start_time", "last_activity", "events")
    for s in body["sessions"]:
        table.add_row(
            s["session_id"], s["user_id"], s["start_time"], s["last_activity"], str(s["events_count"])
        )
    Console().print(table)
    print(f"sessions: {body['count']}")
