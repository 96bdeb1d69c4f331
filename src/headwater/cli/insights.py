"""`headwater insights trend ...`: the trends of POST /api/v1/insights/trend from the shell
(docs/insights.md); --json prints the API's JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, settings_of
from headwater.cli.metric_table import figure

insights_app = typer.Typer(
    help="Insights: trends, paths and web analytics, with filters and breakdowns (docs/insights.md).",
    no_args_is_help=True,
)

_FILTER_HELP = (
    "Repeatable. type:name OP value, type one of event, person, derived; OP one of = (eq; a comma list"
    " is 'in': plan=pro,team), != (neq), > (gt), < (lt), ~ (contains), ? (is set, no value; !? is not"
    ' set). Values are JSON when a number, true, false, null or "quoted", text otherwise.'
    " Example: --filter event:plan=pro --filter 'derived:browser~Chrome' --filter person:email?"
)


@insights_app.command("trend")
def trend_command(
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD) in the time zone.")],
    end: Annotated[str, typer.Option("--end", help="Last day (YYYY-MM-DD), included.")],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the project's).")] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="Repeatable: one series (A, B, C ...) per event; '*' (or no --event) is any event.",
        ),
    ] = None,
    measure: Annotated[
        list[str] | None,
        typer.Option(
            "--measure", help="events | users | sum | avg | p50 | p90: once for every series, or once each."
        ),
    ] = None,
    prop: Annotated[
        list[str] | None,
        typer.Option("--property", help="The numeric event property of sum, avg, p50, p90 (once, or each)."),
    ] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", help=_FILTER_HELP)] = None,
    filter_match: Annotated[
        str | None, typer.Option("--filter-match", help="all (default: every filter) | any (one of them).")
    ] = None,
    breakdown: Annotated[
        str | None,
        typer.Option(
            "--breakdown",
            help="type:name, e.g. derived:country, derived:browser, event:plan, person:company.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Breakdown values kept (default 10, at most 100).")
    ] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="day (default) | week (from Monday) | month | range.")
    ] = None,
    formula: Annotated[
        str | None, typer.Option("--formula", help="Over the series: A / B, (A - B) / A * 100 ...")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Add the previous period of the same length.")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """A trend over the lake and today's log: the JSON of POST /api/v1/insights/trend."""
    from headwater.insights.cohorts import Cohorts
    from headwater.insights.options import trend_body
    from headwater.insights.trend import run_trend
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError

    settings = settings_of(data_dir=data_dir, existing=True)
    try:
        body = trend_body(
            start,
            end,
            tz,
            event,
            measure,
            prop,
            filters,
            filter_match,
            breakdown,
            limit,
            interval,
            formula,
            compare,
        )
        out = run_trend(
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
    columns = ["date"]
    if out["compare"]:
        columns.append("period")
    columns.append("series")
    if out["breakdown"]:
        columns.append("breakdown")
    columns.append("value")
    title = f"trend {out['start']}..{out['end']} ({out['tz']}), per {out['interval']}"
    table = Table(*columns, title=title)
    table.columns[-1].justify = "right"
    for row in out["rows"]:
        cells = ["" if row.get(c) is None else str(row.get(c)) for c in columns[:-1]]
        table.add_row(*cells, "" if row["value"] is None else figure(row["value"]))
    console = Console()
    console.print(table)
    for s in out["series"]:
        what = s["measure"] + (f"({s['property']})" if s["property"] else "")
        console.print(f"{s['name']}: {what} of {s['event'] if s['event'] is not None else 'any event'}")
    if out["formula"]:
        console.print(f"formula: {out['formula']}")
    if "previous" in out:
        console.print(f"previous period: {out['previous']['start']}..{out['previous']['end']}")
    for key in ("skipped_values", "missing_days"):
        if out.get(key):
            console.print(f"{key}: {json.dumps(out[key])}")


def register(app: typer.Typer) -> None:
    app.add_typer(insights_app, name="insights")
