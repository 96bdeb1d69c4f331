"""`headwater import PATH|-`: history from Segment or RudderStack archives, NDJSON or CSV, into the
event log (exactly once, resumable), then the lake for the days it touched. See docs/transfer.md."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of

if TYPE_CHECKING:
    from headwater.config import Settings
    from headwater.transfer.import_pool import ImportPool
    from headwater.transfer.importing import FileResult, ImportOptions

_EXAMPLES = """

Examples: `headwater import segment-logs/` (every file under it, gzip or not);
`headwater import users.csv --map userId=user,event=name,timestamp=ts`;
`zcat archive.gz | headwater import - --json`.
"""


def import_command(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories (every file under them, sorted) or - for stdin.")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="auto (JSON lines if the first line is an object, else CSV), json, csv."
        ),
    ] = "auto",
    column_map: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="CSV: field=column pairs (userId=user,timestamp=ts,properties.plan=plan) or a .toml/.json"
            " file. Default: columns named like fields fill them, the others go to properties.",
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option("--delimiter", help="CSV delimiter: one character, or 'tab' (default: guessed)."),
    ] = None,
    source: Annotated[str, typer.Option("--source", help="Source name recorded in _hw.source.")] = "import",
    etl: Annotated[
        bool, typer.Option("--etl/--no-etl", help="Load the touched days into the lake at the end.")
    ] = True,
    jobs: Annotated[
        int, typer.Option("--jobs", help="Worker processes that convert (0: one per core).", min=0)
    ] = 0,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Import history into the log: Segment / RudderStack archives (gzipped JSON lines), NDJSON, CSV.

    Keeps each event's own timestamp, validates like the collector (rejected lines go to the
    quarantine with the reason and line number), skips messageIds already stored, and records its
    progress: a rerun after an interruption continues, a rerun of a finished file adds nothing.
    """
    import os

    from headwater.transfer.csvmap import MapError, parse_map
    from headwater.transfer.importing import ImportOptions, start_pool
    from headwater.transfer.sources import InputError, file_size, list_inputs

    if fmt not in ("auto", "json", "csv"):
        fail(f"--format must be auto, json or csv, got {fmt!r}")
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            fail(f"--delimiter must be one character (or 'tab'), got {delimiter!r}")
    try:
        mapping = parse_map(column_map)
        inputs = [p for arg in paths for p in list_inputs(arg)]
    except (MapError, InputError) as exc:
        fail(str(exc))
    if sum(p is None for p in inputs) > 1:
        fail("standard input (-) can be given once")
    settings = settings_of(data_dir=data_dir)
    jobs = jobs or min(os.cpu_count() or 1, 4)
    sizes = [file_size(p) for p in inputs]
    total = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
    options = ImportOptions(source, fmt, mapping, delimiter, jobs)
    pool = start_pool(jobs, total)  # forks now, before any thread of this process starts
    try:
        results, seconds = _run(settings, options, pool, inputs, total)
    finally:
        if pool is not None:
            pool.terminate()
    loaded = _load_lake(settings, results) if etl else []
    _report(results, loaded, seconds, etl, as_json)
    if any(r.status in ("truncated", "failed") for r in results):
        raise typer.Exit(1)


def _run(
    settings: Settings,
    options: ImportOptions,
    pool: ImportPool | None,
    inputs: list[Path | None],
    total: int | None,
) -> tuple[list[FileResult], float]:
    from headwater.log.writer import LogWriteError
    from headwater.transfer.importing import Importer
    from headwater.transfer.sources import InputError

    columns = (
        TextColumn("[bold]import[/] {task.fields[file]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%" if total else ""),
        TextColumn("{task.fields[events]:>11,} events  {task.fields[rate]:>8,.0f} events/s"),
        TimeElapsedColumn(),
    )
    _check_geo(settings)
    results: list[FileResult] = []
    started = time.monotonic()

    async def run_all(progress: Progress, task: TaskID) -> None:
        done_bytes, done_lines = 0, 0
        async with Importer(settings, options, pool, inputs[0] if inputs else None) as importer:
            for n, path in enumerate(inputs):
                name = "-" if path is None else path.name
                progress.update(task, file=name)

                def advance(raw: int, lines: int, base: int = done_bytes, first: int = done_lines) -> None:
                    rate = (first + lines) / max(time.monotonic() - started, 1e-6)
                    progress.update(task, completed=base + raw, events=first + lines, rate=rate)

                following = inputs[n + 1] if n + 1 < len(inputs) else None
                result = await importer.import_file(path, advance, following)
                results.append(result)
                done_bytes += path.stat().st_size if path is not None else 0
                done_lines += result.lines
                progress.update(task, completed=done_bytes)

    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("import", total=total, file="", events=0, rate=0.0)
        try:
            asyncio.run(run_all(progress, task))
        except (InputError, LogWriteError, OSError) as exc:
            progress.stop()
            fail(
                str(exc),
                1,
                hint="Nothing after the last recorded chunk was kept; run the same command again.",
            )
    return results, time.monotonic() - started


def _check_geo(settings: Settings) -> None:
    """A configured geo database that cannot serve ends the command with one line, as at serve."""
    from headwater.geo import GeoDatabaseError, open_geo

    try:
        open_geo(settings)
    except GeoDatabaseError as exc:
        fail(str(exc))


def _load_lake(settings: Settings, results: list[FileResult]) -> list[dict[str, Any]]:
    """Run the daily ETL for every received day the imports wrote that is not in the lake yet
    (today's is left to the nightly run: metrics read today's log directly)."""
    from headwater.batch.etl import run_daily
    from headwater.lake.layout import Lake, LakeError, pending_days

    today = datetime.now(UTC).date()
    touched = {date.fromisoformat(d) for r in results for d in r.days}
    if not touched:
        return []
    pending = set(pending_days(Lake(settings.data_dir / "lake"), settings.log_dir))
    days = sorted(d for d in touched if d in pending and d < today)
    loaded: list[dict[str, Any]] = []
    if not days:
        return loaded
    columns = (
        TextColumn("[bold]lake[/]   {task.fields[day]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("lake", total=len(days), day="")
        for day in days:
            progress.update(task, day=day.isoformat())
            try:
                loaded.append(run_daily(settings.data_dir, day, settings.timezone).as_dict())
            except LakeError as exc:
                progress.stop()
                fail(
                    f"loading {day} into the lake: {exc}",
                    1,
                    hint=f"Retry with: headwater etl daily --date {day}",
                )
            progress.advance(task)
    return loaded


def _report(
    results: list[FileResult], loaded: list[dict[str, Any]], seconds: float, etl: bool, as_json: bool
) -> None:
    lines = sum(r.lines for r in results)
    totals = {
        k: sum(getattr(r, k) for r in results)
        for k in ("lines", "imported", "duplicates", "rejected", "flagged", "suppressed")
    }
    dates = sorted({d for r in results for d in r.dates})
    if as_json:
        out = {
            "files": [asdict(r) for r in results],
            "totals": totals,
            "seconds": round(seconds, 3),
            "events_per_second": round(lines / seconds) if seconds > 0 else None,
            "lake": loaded,
        }
        print(json.dumps(out, indent=2))
        return
    for r in results:
        if r.status == "already imported":
            print(f"{r.file}: already imported, nothing to add")
            continue
        if r.status == "failed":
            err.print(f"[red]error:[/] {r.error}")
            continue
        resumed = f" (continued at line {r.resumed_at_line + 1})" if r.resumed_at_line else ""
        print(
            f"{r.file}: {r.lines:,} lines -> {r.imported:,} imported, {r.duplicates:,} duplicates"
            f" (already stored), {r.rejected:,} rejected (quarantined){resumed}"
        )
        for reason in r.reasons[:5]:
            print(f"  {r.file} line {reason['line']}: {reason['code']}: {reason['reason']}")
        if r.rejected > len(r.reasons[:5]):
            print(f"  ... all {r.rejected:,} are in the quarantine (data/log/quarantine-*.import-*.jsonl)")
        if r.suppressed:
            print(f"  {r.suppressed:,} events of suppressed people skipped (docs/privacy.md)")
        if r.ignored_columns:
            print(f"  columns not imported (not in --map): {', '.join(r.ignored_columns)}")
        if r.error:
            err.print(f"[red]error:[/] {r.error}")
            if r.status == "truncated":
                err.print(
                    "Everything before it is imported; fix or re-fetch the file and run again: it continues."
                )
    if lines:
        print(f"{lines:,} lines in {seconds:.1f} s ({lines / max(seconds, 1e-6):,.0f} events/s)")
    if loaded:
        first, last = loaded[0]["received_day"], loaded[-1]["received_day"]
        print(f"lake: loaded {len(loaded)} received days ({first} .. {last})")
    elif not etl and dates:
        print("lake: not loaded (--no-etl): the nightly ETL loads them, or `headwater etl daily --pending`")
    if dates:
        print(f"Try: headwater metrics dau --start {dates[0]} --end {dates[-1]}")


def register(app: typer.Typer) -> None:
    text = inspect.cleandoc(import_command.__doc__ or "") + _EXAMPLES
    help_text = "\n\n".join(" ".join(part.split()) for part in text.split("\n\n"))
    app.command("import", help=help_text)(import_command)
