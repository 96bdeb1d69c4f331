"""`headwater etl ...`: the daily ETL, monthly archives, raw-log retention and the lake's upgrade
(cron-friendly)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from headwater.cli.common import DataDir, JsonOpt, err, settings_of

if TYPE_CHECKING:
    from headwater.lake.upgrade import UpgradeReport

etl_app: typer.Typer = typer.Typer(
    help="Batch ETL: event log -> Parquet lake, monthly archives, retention, upgrade.", no_args_is_help=True
)


def _lake_error(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(1)


@etl_app.command("daily")
def daily(
    day: Annotated[
        str | None, typer.Option("--date", help="UTC day the events were received (YYYY-MM-DD).")
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Load every complete day not in the lake yet (catch-up).")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the log files received on a day into the lake (default: yesterday, UTC). Idempotent."""
    from headwater.batch.etl import days_to_load, run_daily
    from headwater.lake.layout import LakeError

    settings = settings_of(data_dir=data_dir)
    if settings.cluster:
        err.print(
            "[red]error:[/] in a cluster the daily ETL loads every host's files under the pipeline lease:"
            " run `headwater cluster turn` (it loads every pending day), docs/scale-out.md"
        )
        raise typer.Exit(2)
    today = datetime.now(UTC).date()
    if pending:
        days = days_to_load(settings.data_dir, today)
    else:
        try:
            days = [date.fromisoformat(day) if day else date.fromordinal(today.toordinal() - 1)]
        except ValueError:
            err.print(f"[red]error:[/] --date must be YYYY-MM-DD, got {day!r}")
            raise typer.Exit(2) from None
    results = []
    for d in days:
        try:
            results.append(run_daily(settings.data_dir, d, settings.timezone).as_dict())
        except LakeError as exc:
            if str(exc).startswith("no event log files were received") and not day:
                err.print(f"[red]error:[/] {exc}")
                err.print(
                    "The daily ETL loads yesterday's log by default (the server runs it every night)."
                    " Load a given day with --date YYYY-MM-DD, or every complete day not loaded yet"
                    " with --pending; today's events are answered from the log until then."
                )
                raise typer.Exit(1) from None
            raise _lake_error(exc) from None
    if results:
        _upgrade_hint(settings.data_dir)
    if as_json:
        print(json.dumps({"loaded": results}, indent=2))
        return
    if not results:
        err.print("Nothing to load: every complete day is in the lake.")
    for r in results:
        print(
            f"{r['received_day']}: {r['rows_in']} lines -> {r['rows_out']} events "
            f"({r['duplicates']} duplicates) into {len(r['event_dates'])} dates in {r['seconds']} s"
            + (f"  [{r['skipped']}]" if r["skipped"] else "")
        )
        for rollup, days in (r.get("backfilled") or {}).items():
            print(
                f"  {rollup} rollup written for {len(days)} earlier received days (loaded before it existed)"
            )


@etl_app.command("archive")
def archive(
    month: Annotated[str, typer.Option("--month", help="Month to compact, YYYY-MM.")],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Compact a month of the lake into one zstd Parquet file; then apply raw-log retention."""
    from headwater.batch.archive import apply_retention, archive_month, parse_month
    from headwater.batch.holds import retention_holds
    from headwater.lake.layout import LakeError

    settings = settings_of(data_dir=data_dir)
    try:
        year, mon = parse_month(month)
        if settings.cluster:  # on the lake every host pulls, under the pipeline lease (docs/scale-out.md)
            from headwater.cluster.pipeline import change_lake

            out = change_lake(settings, lambda: archive_month(settings.data_dir, year, mon))
        else:
            out = archive_month(settings.data_dir, year, mon)
        out["raw_deleted"] = apply_retention(
            settings.data_dir,
            settings.raw_retention_days,
            datetime.now(UTC).date(),
            retention_holds(settings),
        )
    except LakeError as exc:
        raise _lake_error(exc) from None
    if as_json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['month']}: {out['rows']} events from {out['files_compacted']} files -> {out['archive']}")
    if out["raw_deleted"]:
        print(f"retention deleted {len(out['raw_deleted'])} raw log files")


def _upgrade_hint(data_dir: Path) -> None:
    """One line on stderr when the lake holds event files written before the derived columns."""
    from headwater.lake.layout import Lake
    from headwater.lake.upgrade import upgrade_hint

    hint = upgrade_hint(Lake(data_dir / "lake"))
    if hint:
        err.print(hint, highlight=False, markup=False)


@etl_app.command("upgrade")
def upgrade(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the files and rows to rewrite; change nothing.")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Rewrite the lake's event files written before the derived columns (d_browser, d_country ...)
    with them, so insights read no JSON for them. One file at a time, each replaced whole; a second
    run rewrites nothing (docs/insights.md, "Upgrading a lake")."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from headwater.lake.layout import Lake, LakeError
    from headwater.lake.upgrade import upgrade_lake

    settings = settings_of(existing=True, data_dir=data_dir)
    lake = Lake(settings.data_dir / "lake")
    in_cluster = settings.cluster and not dry_run  # the lake is pulled first: a host may have none yet
    if not in_cluster and not lake.events_dir.is_dir() and not lake.archive_dir.is_dir():
        err.print(f"[red]error:[/] no lake at {lake.root}: nothing to upgrade")
        err.print("The daily ETL writes it (`headwater etl daily`); check --data-dir or HEADWATER_DATA_DIR.")
        raise typer.Exit(1)
    with Progress(
        TextColumn("upgrading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=dry_run or as_json or not err.is_terminal,
    ) as bar:
        task = bar.add_task("files", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1))

        def run() -> UpgradeReport:
            return upgrade_lake(lake, dry_run=dry_run, progress=progress)

        try:
            if in_cluster:  # the lake every host pulls, under the pipeline lease (docs/scale-out.md)
                from headwater.cluster.pipeline import change_lake

                report = change_lake(settings, run)
            else:
                report = run()
        except (LakeError, TimeoutError) as exc:  # TimeoutError: the pipeline lease stayed held
            raise _lake_error(exc) from None
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    print(_upgrade_summary(report))


def _upgrade_summary(r: UpgradeReport) -> str:
    if not r.files_rewritten and not r.rollups_rewritten:
        return (
            f"Nothing to upgrade: every event file ({r.files_scanned}) has the derived columns,"
            " every paths rollup its ties."
        )
    mb = 1_000_000
    head = "would rewrite" if r.dry_run else "rewrote"
    line = (
        f"{head} {r.files_rewritten} of {r.files_scanned} event files: {r.rows_rewritten} rows,"
        f" {r.rows_computed} of them without the derived columns ({r.bytes_before / mb:.1f} MB"
    )
    line += ")" if r.dry_run else f" -> {(r.bytes_after or 0) / mb:.1f} MB)"
    if r.rollups_rewritten:
        days = f"{r.rollups_rewritten} received day" + ("s" if r.rollups_rewritten > 1 else "")
        line += f" and {'would write' if r.dry_run else 'wrote'} again the paths rollup of {days}"
        line += " (written before its ties)"
    if r.dry_run:
        return line + "; run `headwater etl upgrade` to rewrite them"
    return line + f" in {r.seconds} s"


def register(app: typer.Typer) -> None:
    app.add_typer(etl_app, name="etl")
