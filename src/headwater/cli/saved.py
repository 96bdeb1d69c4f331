"""`headwater insights save NAME ...` and `headwater insights saved [list|show|delete|run]`: saved
insights (docs/dashboard.md, "Saved insights, dashboards, alerts"), the same ones and the same JSON
as /api/v1/insights/saved. A saved insight is named by its id or, when no other has it, its name."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from headwater.cli.common import DataDir, JsonOpt, catalog, fail, settings_of

saved_app = typer.Typer(
    help="Saved insights: list them, show, run or delete one (save one with `headwater insights save`).",
    invoke_without_command=True,
)
_KINDS = "trend | paths | web | funnel | retention"
_QUERY_HELP = (
    "The query: a JSON file, - for standard input, or the JSON itself. The body of POST"
    " /api/v1/insights/KIND for trend, paths and web; the metrics API's parameters for funnel and"
    ' retention ({"start", "end", "steps": [...]}). See docs/insights.md.'
)
Ref = Annotated[str, typer.Argument(help="The saved insight's id, or its name.", show_default=False)]


def read_json(source: str, what: str) -> Any:
    """JSON from a file, standard input (-) or the text itself; a clear error otherwise."""
    if source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith(("{", "[")):
        text = source
    else:
        try:
            text = Path(source).read_text()
        except OSError as exc:
            fail(
                f"cannot read {what} {source}: {exc.strerror}",
                1,
                "Give a file, - for standard input, or the JSON.",
            )
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"{what} is not valid JSON: {exc}")


def open_saved(data_dir: Path | None, existing: bool = True) -> Any:
    """The saved insights and dashboards of the control plane; ``existing``: a data directory that
    is not there is refused (a mistyped --data-dir), else made (a first command before any server)."""
    from headwater.stores.sql.saved import SavedCatalog

    return catalog(SavedCatalog, settings_of(existing=existing, data_dir=data_dir))


def find(items: list[Any], ref: str, what: str, listing: str) -> Any:
    """The item whose id is ``ref``, else the only one named ``ref``; a clear error otherwise."""
    for item in items:
        if item.id == ref:
            return item
    named = [i for i in items if i.name == ref]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(i.id for i in named)
        fail(f"{len(named)} {what}s are named {ref!r}: give one's id ({ids})", 1)
    fail(f"no {what} {ref!r}", 1, f"`{listing}` lists them (by id and name).")


def find_insight(saved: Any, ref: str) -> Any:
    return find(saved.insights(), ref, "saved insight", "headwater insights saved list")


def save(
    name: Annotated[str, typer.Argument(help="The insight's name (shown on dashboards).")],
    kind: Annotated[str, typer.Option("--kind", help=_KINDS, show_default=False)],
    query_file: Annotated[str, typer.Option("--query-file", help=_QUERY_HELP, show_default=False)],
    description: Annotated[str, typer.Option("--description", help="A line saying what it shows.")] = "",
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Save an insight: a name, a kind and its query, checked as its endpoint checks it."""
    from headwater.insights.saved import parse_insight
    from headwater.lake.params import MetricError

    query = read_json(query_file, "the query")
    settings = settings_of(data_dir=data_dir)
    try:
        spec = parse_insight(
            {"name": name, "kind": kind, "query": query, "description": description}, settings.timezone
        )
    except MetricError as exc:
        fail(exc.message, hint="The query of each kind: docs/insights.md (and docs/dashboard.md).")
    with open_saved(data_dir, existing=False) as saved:
        stored = saved.create_insight(spec.name, spec.kind, spec.query, spec.description)
    if as_json:
        print(json.dumps(stored.as_json(), indent=2, ensure_ascii=False))
        return
    print(f"saved insight {stored.id}: {stored.name} ({stored.kind})")


@saved_app.callback()
def saved_main(ctx: typer.Context, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Saved insights: without a command, the list."""
    if ctx.invoked_subcommand is None:
        list_(data_dir, as_json)


@saved_app.command("list")
def list_(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Every saved insight: id, kind, name."""
    with open_saved(data_dir) as saved:
        found = saved.insights()
    if as_json:
        print(json.dumps({"insights": [i.as_json() for i in found]}, indent=2, ensure_ascii=False))
        return
    if not found:
        print("no saved insights yet: headwater insights save NAME --kind trend --query-file FILE")
        return
    for item in found:
        print(f"{item.id:<12} {item.kind:<10} {item.name}")


@saved_app.command("show")
def show(ref: Ref, data_dir: DataDir = None) -> None:
    """A saved insight (JSON: its name, kind and query)."""
    with open_saved(data_dir) as saved:
        item = find_insight(saved, ref)
    print(json.dumps(item.as_json(), indent=2, ensure_ascii=False))


@saved_app.command("delete")
def delete(ref: Ref, data_dir: DataDir = None) -> None:
    """Delete a saved insight, its dashboard tiles and its alerts."""
    with open_saved(data_dir) as saved:
        item = find_insight(saved, ref)
        removed = saved.delete_insight(item.id)
    if removed is None:
        fail(f"no saved insight {ref!r}", 1, "`headwater insights saved list` lists them.")
    also = []
    if removed.tiles:
        also.append(f"{removed.tiles} dashboard tile{'s' if removed.tiles != 1 else ''}")
    if removed.alerts:
        also.append(f"{len(removed.alerts)} alert{'s' if len(removed.alerts) != 1 else ''}")
    print(f"deleted saved insight {item.id}" + (f" (and {', '.join(also)})" if also else ""))


@saved_app.command("run")
def run(
    ref: Ref,
    start: Annotated[str | None, typer.Option("--start", help="Another first day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Another last day (YYYY-MM-DD).")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Another IANA time zone.")] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a saved insight now (over its range, or another): its endpoint's answer."""
    from headwater.insights.cohorts import Cohorts
    from headwater.insights.saved import run_saved, with_range
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError, parse_date

    settings = settings_of(data_dir=data_dir, existing=True)
    with open_saved(data_dir) as saved:
        item = find_insight(saved, ref)
    try:
        for name, value in (("--start", start), ("--end", end)):
            if value:
                parse_date(value, name)
        query = with_range(item.query, start, end, tz)
        cohorts = Cohorts(settings.data_dir, settings.effective_database_url)
        out = run_saved(settings.data_dir, settings.timezone, item.kind, query, cohorts)
    except MetricError as exc:
        fail(exc.message, hint=f"`headwater insights saved show {item.id}` shows its query.")
    except LakeError as exc:
        fail(str(exc), 1)
    if as_json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print_answer(item.kind, out)


def print_answer(kind: str, out: dict[str, Any]) -> None:
    """An insight's answer as the command of its kind prints it."""
    if kind == "trend":
        from headwater.cli.insights import _print_table

        _print_table(out)
    elif kind == "paths":
        from headwater.cli.insight_paths import _print_table as print_paths

        print_paths(out)
    elif kind == "web":
        from headwater.cli.insight_web import _print_tables

        _print_tables(out)
    else:
        from headwater.cli.metric_table import metric_table

        metric_table(kind, out, Console())


def register(insights_app: typer.Typer) -> None:
    """`insights save` and `insights saved ...` under `headwater insights`."""
    insights_app.command("save")(save)
    insights_app.add_typer(saved_app, name="saved")
