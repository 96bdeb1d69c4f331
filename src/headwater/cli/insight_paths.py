"""`headwater insights paths ...`: the paths of POST /api/v1/insights/paths from the shell
(docs/insights.md, "Paths"); --json prints the API's JSON. Registered on the `insights` group."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, settings_of
from headwater.cli.metric_table import figure, percent

_FILTER_HELP = (
    "Repeatable, as for 'insights trend': type:name OP value, type one of event, person, derived;"
    " OP one of = (a comma list is 'in'), != , >, <, ~ (contains), ? (is set; !? is not set)."
    " The filters choose the events that may be the anchor or a step."
)


def paths_body(
    start: str,
    end: str,
    event: str,
    tz: str | None = None,
    direction: str | None = None,
    steps: int | None = None,
    filters: list[str] | None = None,
    filter_match: str | None = None,
    limit: int | None = None,
    session_scoped: bool = False,
    kind: str | None = None,
    exclude: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON of POST /api/v1/insights/paths for the CLI's options (paths_request.py checks it)."""
    from headwater.insights.options import parse_filter

    body: dict[str, Any] = {"start": start, "end": end, "event": event, "session_scoped": session_scoped}
    optional = {
        "tz": tz,
        "direction": direction,
        "steps": steps,
        "filter_match": filter_match,
        "limit": limit,
        "kind": kind,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if filters:
        body["filters"] = [parse_filter(f) for f in filters]
    if exclude:
        body["exclude"] = list(exclude)
    return body


def paths(
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD) in the time zone.")],
    end: Annotated[str, typer.Option("--end", help="Last day (YYYY-MM-DD), included.")],
    event: Annotated[
        str, typer.Option("--event", help="The anchor: an event name, or with --kind pages a page path.")
    ],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the project's).")] = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="next (default: the steps after) | previous (before).")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Steps followed, 1 to 5 (default 3).")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", help=_FILTER_HELP)] = None,
    filter_match: Annotated[
        str | None, typer.Option("--filter-match", help="all (default: every filter) | any (one of them).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Nodes kept per step (default 5, at most 20); the rest $other."),
    ] = None,
    session_scoped: Annotated[
        bool, typer.Option("--session", help="Only steps within the anchor's session (30 min inactivity).")
    ] = False,
    kind: Annotated[
        str | None, typer.Option("--kind", help="events (default) | pages (the page paths of page events).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Repeatable: an event name (or path) never a step.")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Paths over the lake and today's log: the JSON of POST /api/v1/insights/paths."""
    from headwater.insights.cohorts import Cohorts
    from headwater.insights.paths import run_paths
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError

    settings = settings_of(data_dir=data_dir, existing=True)
    try:
        body = paths_body(
            start,
            end,
            event,
            tz,
            direction,
            steps,
            filters,
            filter_match,
            limit,
            session_scoped,
            kind,
            exclude,
        )
        out = run_paths(
            settings.data_dir,
            settings.timezone,
            body,
            Cohorts(settings.data_dir, settings.effective_database_url),
        )
    except MetricError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    except LakeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    _print_table(out)


def _print_table(out: dict[str, Any]) -> None:
    arrow = " -> " if out["direction"] == "next" else " <- "
    title = (
        f"paths {out['direction']} of {out['anchor']['event']!r} ({out['kind']}),"
        f" {out['start']}..{out['end']} ({out['tz']})"
        + (", within the session" if out["session_scoped"] else "")
    )
    table = Table("step", "path", "users", "of anchor", "drop-off", title=title)
    for column in (table.columns[0], *table.columns[2:]):
        column.justify = "right"
    anchor = out["anchor"]
    table.add_row(
        "0",
        str(anchor["event"]),
        figure(anchor["users"]),
        "100%" if anchor["users"] else "",
        figure(anchor["drop_off"]),
    )
    for step in out["steps"]:
        for node in step["nodes"]:
            table.add_row(
                str(step["step"]),
                arrow.join(node["path"]),
                figure(node["users"]),
                percent(node["share_of_anchor"]),
                figure(node["drop_off"]),
            )
    console = Console()
    console.print(table)
    if not anchor["users"]:
        console.print(f"nobody did {anchor['event']!r} in the range (with these filters)")
    if out.get("missing_days"):
        console.print(f"missing_days: {json.dumps(out['missing_days'])}")
