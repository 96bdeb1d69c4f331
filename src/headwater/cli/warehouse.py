"""`headwater warehouse init|sync|backfill|status`: the BigQuery export from the shell.

The warehouse is HEADWATER_WAREHOUSE_URL (``bigquery://PROJECT/DATASET``); a running server exports
every closed hour by itself, and these commands share its lock (one export at a time).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of

warehouse_app = typer.Typer(help="The BigQuery warehouse: hourly export of the log.", no_args_is_help=True)

_HINT = (
    "Set HEADWATER_WAREHOUSE_URL=bigquery://PROJECT/DATASET (add ?location=EU for a new dataset);"
    " see docs/warehouse.md"
)


def _exporter(data_dir: Path | None) -> Any:
    from headwater.stores.warehouse import open_warehouse
    from headwater.stores.warehouse.ports import WarehouseError
    from headwater.warehouse.export import Exporter

    settings = settings_of(data_dir=data_dir)
    if not settings.warehouse_url:
        fail("no warehouse is configured", hint=_HINT)
    try:
        warehouse = open_warehouse(settings.warehouse_url)
    except WarehouseError as exc:
        fail(str(exc), code=1)
    return Exporter(settings, warehouse)


def _run(data_dir: Path | None, fn: Any) -> Any:
    from headwater.stores.warehouse.ports import WarehouseError
    from headwater.warehouse.export import ExportBusyError

    exporter = _exporter(data_dir)
    try:
        return fn(exporter)
    except ExportBusyError as exc:
        fail(str(exc), code=1)
    except WarehouseError as exc:
        fail(
            str(exc),
            code=1,
            hint="`headwater warehouse status` shows the ledger; a retry resumes where it stopped.",
        )
    finally:
        exporter.close()
        exporter.warehouse.close()


def _with_progress(as_json: bool, fn: Any) -> Any:
    if as_json:
        return fn(None)
    with Progress(
        TextColumn("exporting hours"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("export", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return fn(progress)


def _report(out: dict[str, Any], as_json: bool, include_current: bool = True) -> None:
    if as_json:
        print(json.dumps(out, indent=2))
        return
    with_rows = len(out["exported"])
    console = Console()
    console.print(
        f"exported {out['rows']} rows of {with_rows} hours ({out['hours']} checked),"
        f" {out['decisions']} OpenRTB decisions and {out['identities']} identity links in {out['seconds']} s"
    )
    if out["rejected"]:
        console.print(
            f"{out['rejected']} rows set aside: BigQuery cannot store them (`headwater warehouse status`)"
        )
    if not out["rows"] and not include_current:
        console.print("the hour still open is exported once it closes (or now: sync --include-current)")


@warehouse_app.command("init")
def init(
    location: Annotated[str | None, typer.Option(help="Location of a new dataset (US, EU, ...).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create the dataset (if missing), the tables and the views; safe to run again."""
    created, display = _run(data_dir, lambda ex: (ex.init(location), ex.warehouse.display))
    console = Console()
    console.print(("created " if created else "found ") + display)
    console.print(
        "tables events, hourly_stats, identities, openrtb_decisions and view events_deduped are ready"
    )


@warehouse_app.command("sync")
def sync(
    include_current: Annotated[
        bool,
        typer.Option("--include-current", help="Also export the hour still open (again once it closes)."),
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Export every hour due (closed and not exported yet); returns when it is loaded."""
    report = _run(
        data_dir,
        lambda ex: _with_progress(as_json, lambda p: ex.sync(include_current=include_current, progress=p)),
    )
    _report(report.as_dict(), as_json, include_current)


@warehouse_app.command("backfill")
def backfill(
    first: Annotated[str, typer.Option("--from", help="First UTC day (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last UTC day (YYYY-MM-DD), included.")],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Export every hour of a range of days again, replacing what they exported before."""
    try:
        lo, hi = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        fail(f"--from and --to take dates as YYYY-MM-DD (got {first!r} and {last!r})")
    if hi < lo:
        fail(f"--to ({hi}) is before --from ({lo})")
    report = _run(data_dir, lambda ex: _with_progress(as_json, lambda p: ex.backfill(lo, hi, progress=p)))
    _report(report.as_dict(), as_json)


@warehouse_app.command("status")
def status(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """The ledger of exported hours, the lag, rows set aside and the last error."""
    out = _run(data_dir, lambda ex: ex.status())
    if as_json:
        print(json.dumps(out, indent=2, default=str))
        return
    console = Console()
    console.print(f"warehouse   {out['warehouse']}")
    partial = " (the open hour so far included)" if out["open_hour_exported"] else ""
    console.print(
        f"exported    {out['rows_loaded']} rows from {out['hours_with_rows']} hours{partial};"
        f" {out['hours_exported']} hours checked"
    )
    console.print(
        f"due         {out['hours_due']} hours (oldest {out['oldest_due'] or '-'}),"
        f" lag {out['lag_seconds']} s"
    )
    console.print(f"set aside   {out['rows_rejected']} rows")
    if out["last_error"]:
        console.print(f"[red]last error[/] {out['last_error']}")
    for r in out["rejects"]:
        console.print(f"  {r['hour']} {r['id']}: {r['reason']}")


def register(app: typer.Typer) -> None:
    app.add_typer(warehouse_app, name="warehouse")
