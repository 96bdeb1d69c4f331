"""`headwater insights web ...`: the web analytics of POST /api/v1/insights/web from the shell
(docs/insights.md, "Web analytics"); --json prints the API's JSON. ``web`` is registered on the
``insights`` group (cli/insights.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, settings_of
from headwater.cli.metric_table import cell

_FILTER_HELP = (
    "Repeatable, as for 'insights trend': type:name OP value, type one of event, person, derived; OP one"
    " of = (eq; a comma list is 'in'), != (neq), > (gt), < (lt), ~ (contains), ? (is set; !? is not set)."
    " Filters pick page events; a visit counts when one of its pageviews matches."
    " Example: --filter derived:path=/pricing --filter 'derived:utm_source?'"
)
_LISTS = (
    ("pages", "top pages"),
    ("entry_pages", "entry pages"),
    ("exit_pages", "exit pages"),
    ("sources", "sources"),
    ("utm_sources", "UTM sources"),
    ("utm_mediums", "UTM mediums"),
    ("utm_campaigns", "UTM campaigns"),
    ("devices", "devices"),
    ("browsers", "browsers"),
    ("os", "operating systems"),
    ("countries", "countries"),
    ("regions", "regions"),
)
_SUMMARY = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration")


def web_body(
    start: str,
    end: str,
    tz: str | None = None,
    filters: list[str] | None = None,
    filter_match: str | None = None,
    limit: int | None = None,
    compare: bool = False,
    lists: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON of POST /api/v1/insights/web for the CLI's options (web_request.py checks it)."""
    from headwater.insights.options import parse_filter

    body: dict[str, Any] = {"start": start, "end": end, "compare": compare}
    optional = {"tz": tz, "filter_match": filter_match, "limit": limit}
    body.update({k: v for k, v in optional.items() if v is not None})
    if filters:
        body["filters"] = [parse_filter(f) for f in filters]
    if lists is not None:
        body["lists"] = [name for name in lists if name]
    return body


def web(
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD) in the time zone.")],
    end: Annotated[str, typer.Option("--end", help="Last day (YYYY-MM-DD), included.")],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the project's).")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", help=_FILTER_HELP)] = None,
    filter_match: Annotated[
        str | None, typer.Option("--filter-match", help="all (default: every filter) | any (one of them).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Values kept per list (default 10, at most 100).")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Add the previous period's summary (same length).")
    ] = False,
    lists: Annotated[
        list[str] | None,
        typer.Option(
            "--list",
            help="Repeatable: answer only these lists (pages, entry_pages, exit_pages, sources, utm_sources,"
            " utm_mediums, utm_campaigns, devices, browsers, os, countries, regions). Default: all.",
        ),
    ] = None,
    summary_only: Annotated[
        bool, typer.Option("--summary-only", help="The summary alone, no list (the fastest answer).")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Web analytics (Plausible's view) over the lake and today's log: POST /api/v1/insights/web."""
    from headwater.insights.cohorts import Cohorts
    from headwater.insights.web import run_web
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError

    settings = settings_of(data_dir=data_dir)
    try:
        body = web_body(start, end, tz, filters, filter_match, limit, compare, [] if summary_only else lists)
        out = run_web(
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
    _print_tables(out)


def _print_tables(out: dict[str, Any]) -> None:
    console = Console()
    summary = Table("", "this period", *(["previous"] if "previous" in out else []))
    for key in _SUMMARY:
        cells = [_cell(key, out["summary"][key])]
        if "previous" in out:
            cells.append(_cell(key, out["previous"][key]))
        summary.add_row(key.replace("_", " "), *cells)
    for column in summary.columns[1:]:
        column.justify = "right"
    summary.title = f"web {out['start']}..{out['end']} ({out['tz']})"
    console.print(summary)
    for key, title in _LISTS:
        rows = out.get(key)
        if not rows:
            continue
        columns = [
            c for c in ("visitors", "visits", "pageviews", "bounce_rate", "visit_duration") if c in rows[0]
        ]
        table = Table(title, *(c.replace("_", " ") for c in columns), title=None)
        for column in table.columns[1:]:
            column.justify = "right"
        for row in rows:
            table.add_row(str(row["value"]), *(_cell(c, row[c]) for c in columns))
        console.print(table)
    if out.get("missing_days"):
        console.print(f"missing_days: {json.dumps(out['missing_days'])}")


def _cell(key: str, value: Any) -> str:
    """A figure as the dashboard shows it: a share in percent (metric_table.RATIOS), a duration in words."""
    if key == "visit_duration":
        return duration(float(value))
    return cell(key, value)


def duration(seconds: float) -> str:
    """``0 s``, ``42 s``, ``2 min 5 s``, ``1 h 3 min`` (rounded to the second)."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
