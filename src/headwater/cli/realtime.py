"""`headwater realtime daily|sessions`: the realtime aggregates (same JSON as the API)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, fail, realtime_store, settings_of

realtime_app = typer.Typer(help="Real-time aggregates (today's usage, sessions).", no_args_is_help=True)


@realtime_app.command("daily")
def realtime_daily(
    date_text: Annotated[
        str | None, typer.Option("--date", help="Day (YYYY-MM-DD) in the project time zone; default today.")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Events per tool_id and event_type, and unique users, of one day."""
    from headwater.realtime.answers import daily_json, parse_day

    settings = settings_of(data_dir=data_dir)
    try:
        day = parse_day(date_text, settings.timezone)
    except ValueError as exc:
        fail(f"--date: {exc}")
    store = realtime_store(settings)
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
    from headwater.realtime.answers import sessions_json

    store = realtime_store(settings_of(data_dir=data_dir))
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


def register(app: typer.Typer) -> None:
    app.add_typer(realtime_app, name="realtime")
