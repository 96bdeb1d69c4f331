"""`headwater people show|events|search` and `headwater events latest [--follow]`: people, their
events, and the latest events received (the same JSON as the API with --json)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of
from headwater.config import Settings

people_app = typer.Typer(
    help="People: a profile, their events, a search by id or trait.", no_args_is_help=True
)
events_app = typer.Typer(help="Events as they arrive (for checking instrumentation).", no_args_is_help=True)

PersonArg = Annotated[str, typer.Argument(help="Any id of the person: a userId or an anonymousId.")]
EventOpt = Annotated[
    str | None, typer.Option("--event", help="Only this event (a track's name, or page, ...).")
]


def _sources(settings: Settings) -> Any:
    """Where to read; the live store only when this process can reach the one the server uses."""
    from headwater.people.sources import Sources
    from headwater.stores.live import open_live
    from headwater.stores.live.ports import LiveUnavailableError
    from headwater.stores.registry import backend_for

    live, note = None, None
    if backend_for(settings.redis_url, "live").in_process:
        note = (
            "the live store is memory:// (inside the server process): ask the running server"
            " (GET /api/v1/people/{id}) for experiments and audiences"
        )
    else:
        try:
            live = open_live(settings.redis_url)
        except LiveUnavailableError as exc:
            note = f"unavailable: {exc}"
    return Sources(settings.data_dir, settings.effective_database_url, live, note, migrate=True)


def _read(settings: Settings, work: Any) -> Any:
    from headwater.lake.layout import LakeError
    from headwater.people.sources import Reading
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        with Reading(_sources(settings)) as reading:
            return work(reading)
    except (StoreUnavailableError, LakeError) as exc:
        fail(str(exc))


def _not_found(asked: str) -> NoReturn:
    fail(f"no person has the id {asked!r}", 1, "`headwater people search TEXT` finds ids by their start")


def _dump(body: Any) -> None:
    print(json.dumps(body, indent=2, ensure_ascii=False))


@people_app.command("show")
def show(person_id: PersonArg, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """A person's profile: every merged id, traits, first and last seen, sessions, experiments,
    audiences."""
    from headwater.people.profile import profile

    body = _read(settings_of(data_dir=data_dir, existing=True), lambda reading: profile(reading, person_id))
    if body is None:
        _not_found(person_id)
    if as_json:
        _dump(body)
        return
    out = Console(soft_wrap=True)
    ids = ", ".join(f"{i['id']} ({i['kind']})" for i in body["ids"])
    out.print(f"[bold]{body['user_id'] or person_id}[/]  ids: {ids}")
    out.print(f"first seen {body['first_seen']}  last seen {body['last_seen']}  events {body['events']}")
    if body["traits"]:
        table = Table("trait", "value", "set at", title="traits")
        for name, value in body["traits"].items():
            table.add_row(name, value, body["traits_updated"][name])
        out.print(table)
    sessions = body["sessions"]
    table = Table("start", "end", "events", "stored", title=f"sessions ({sessions['count']}, latest first)")
    for s in sessions["recent"]:
        table.add_row(s["start"], s["end"], str(s["events"]), s["stored"])
    out.print(table)
    if body["live"] != "ok":
        err.print(f"experiments and audiences: {body['live']}")
        return
    table = Table("experiment", "phase", "variation", "exposed", "by", title="experiments")
    for e in body["experiments"]:
        table.add_row(
            e["experiment"],
            e["phase"] or "",
            e["variation"],
            "yes" if e["exposed"] else "no",
            e["hash_attribute"],
        )
    out.print(table)
    out.print(f"audiences: {', '.join(body['audiences']) or '(none)'}")


def _events_table(events: list[dict[str, Any]], title: str, when: str = "timestamp") -> Table:
    table = Table(when, "event", "type", "user", "source", "stored", title=title)
    for e in events:
        who = e["userId"] if e["userId"] is not None else f"anon:{e['anonymousId']}"
        table.add_row(e[when], e["event"] or "", e["type"] or "", who, e["source"] or "", e["stored"])
    return table


@people_app.command("events")
def events(
    person_id: PersonArg,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Events per page.")] = 100,
    event: EventOpt = None,
    before: Annotated[
        str | None, typer.Option("--before", help="The 'next' cursor of the previous page.")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """A person's events, newest first, a page at a time."""
    from headwater.people.person import resolve_person
    from headwater.people.profile import known
    from headwater.people.timeline import CursorError, decode_cursor, timeline

    try:
        cursor = decode_cursor(before) if before else None
    except CursorError as exc:
        fail(f"--before: {exc}")

    def page(reading: Any) -> dict[str, Any] | None:
        found = resolve_person(reading, person_id)
        body = timeline(reading, found, limit, cursor, event) if found.ids else None
        if body is not None and not body["events"] and not known(reading, found):
            return None
        return body

    body = _read(settings_of(data_dir=data_dir, existing=True), page)
    if body is None:
        _not_found(person_id)
    if as_json:
        _dump(body)
        return
    Console(soft_wrap=True).print(_events_table(body["events"], f"{person_id}: {len(body['events'])} events"))
    if body["next"]:
        print(f"older: --before {body['next']}")


@people_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="The start of an id; with --trait, the trait's value.")],
    trait: Annotated[
        str | None, typer.Option("--trait", help="Find people whose latest value of this trait is TEXT.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many people at most.")] = 50,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """People by the start of an id, or by a trait's value."""
    from headwater.people.search import search as find

    if not text:
        fail("TEXT must not be empty")
    body = _read(
        settings_of(data_dir=data_dir, existing=True), lambda reading: find(reading, text, trait, limit)
    )
    if as_json:
        _dump(body)
        return
    table = Table("id", "user_id", "matched")
    for p in body["people"]:
        table.add_row(p["id"], p["user_id"] or "(anonymous)", ", ".join(p["matched"]))
    Console(soft_wrap=True).print(table)
    if body.get("hint"):
        err.print(body["hint"])
    elif body["truncated"]:
        err.print(f"more than {limit}: narrow the search, or raise --limit")


@events_app.command("latest")
def latest(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the latest events.")] = 50,
    event: EventOpt = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this userId or anonymousId.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Only this type: track, page, identify, ...")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source (a write key's name).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Then print new events as they arrive (until Ctrl-C).")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, help="--follow: seconds between looks at the log.")
    ] = 0.5,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest events received, newest first; with --follow, then every new one (oldest first,
    one per line; with --json, one JSON object per line)."""
    from headwater.people.latest import Filters, Follower
    from headwater.people.latest import latest as newest

    log_dir = settings_of(data_dir=data_dir, existing=True).log_dir
    filters = Filters(event=event, user=user, type=type_, source=source)
    follower = Follower(log_dir, filters) if follow else None  # from now: nothing falls in between
    body = newest(log_dir, limit, filters)
    if not follow:
        if as_json:
            _dump(body)
            return
        Console(soft_wrap=True).print(_events_table(body["events"], "latest events", "receivedAt"))
        if body.get("hint"):
            err.print(body["hint"])
        return
    assert follower is not None
    for e in reversed(body["events"]):
        _line(e, as_json)
    _follow(follower, interval, as_json, log_dir)


def _line(e: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(e, ensure_ascii=False), flush=True)
        return
    who = e["userId"] if e["userId"] is not None else f"anon:{e['anonymousId']}"
    print(f"{e['receivedAt']}  {e['event'] or ''}  {e['type'] or ''}  {who}  {e['source'] or ''}", flush=True)


def _follow(follower: Any, interval: float, as_json: bool, log_dir: Path) -> None:
    if not as_json:
        err.print(f"following {log_dir} (Ctrl-C to stop)")
    while True:
        for e in follower.poll():
            _line(e, as_json)
        time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.add_typer(people_app, name="people")
    app.add_typer(events_app, name="events")
