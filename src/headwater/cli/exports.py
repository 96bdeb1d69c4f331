"""`headwater export events ...` (Segment messages as NDJSON, CSV or Parquet) and `headwater export
metrics NAME ...` (a metric's rows as CSV). See docs/transfer.md."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from headwater.cli.common import DataDir, err, fail, settings_of
from headwater.cli.metrics import metric_options

if TYPE_CHECKING:
    from headwater.transfer.export_model import Sink

export_app = typer.Typer(
    help="Export events in Segment's message format (NDJSON, CSV, Parquet) or a metric as CSV.",
    no_args_is_help=True,
)
Start = Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD) in the time zone.")]
End = Annotated[str, typer.Option("--end", help="Last day (YYYY-MM-DD), included.")]
Tz = Annotated[str | None, typer.Option("--tz", help="IANA time zone of the days (default: the project's).")]
Output = Annotated[
    str,
    typer.Option(
        "--output", "-o", help="A file (gzip-compressed when it ends in .gz), or - for standard output."
    ),
]


@contextlib.contextmanager
def _sink(output: str) -> Iterator[Sink]:
    """Standard output, or a file written under a temporary name and renamed when complete (a failed
    export leaves no partial file); gzip when the name ends in ``.gz`` (level 1: fast)."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        raw = open(partial, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below, renamed on success
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    try:
        with raw:
            if path.name.endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, compresslevel=1) as gz:
                    yield gz
            else:
                yield raw
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@export_app.command("events")
def export_events_command(
    start: Start,
    end: End,
    tz: Tz = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="ndjson (default), csv or parquet; else guessed from --output's name."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help="Only this person's events (an identified userId, with its anonymous history)."),
    ] = None,
    event: Annotated[
        str | None, typer.Option(help="Only this event (a track's name, or page, identify, ...).")
    ] = None,
    output: Output = "-",
    data_dir: DataDir = None,
) -> None:
    """The events of local days start..end, as collected (the lake's deduplicated messages)."""
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError
    from headwater.transfer.export import export_events
    from headwater.transfer.export_model import format_for, parse_request

    settings = settings_of(data_dir=data_dir, existing=True)
    try:
        request = parse_request(start, end, tz, format_for(output, fmt), user, event, settings.timezone)
    except MetricError as exc:
        fail(exc.message.replace("parameter 'format'", "option '--format'"))
    if output == "-" and request.format == "parquet" and sys.stdout.isatty():
        fail("Parquet is binary: write it to a file (--output events.parquet) or a pipe")
    try:
        with _sink(output) as sink:
            stats = export_events(settings.data_dir, request, sink)
    except LakeError as exc:
        fail(str(exc), 1)
    except BrokenPipeError:  # `... | head`: the reader went away, nothing more to do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    where = "standard output" if output == "-" else output
    err.print(f"exported {stats.events:,} events ({request.format}) to {where}")
    if stats.lake_only_days:
        err.print(
            f"{stats.from_lake:,} of them rebuilt from the lake: the raw log of {len(stats.lake_only_days)}"
            " received day(s) is gone (retention), see docs/transfer.md for the fields they lack"
        )


@export_app.command("metrics")
def export_metrics_command(
    name: Annotated[
        str,
        typer.Argument(
            help="dau, wau, mau, stickiness, features, preferences, sessions, retention, funnel, lifecycle"
        ),
    ],
    start: Start,
    end: End,
    tz: Tz = None,
    period: Annotated[str | None, typer.Option(help="retention, lifecycle: day | week | month.")] = None,
    mode: Annotated[str | None, typer.Option(help="retention: on | on_or_after.")] = None,
    cohort: Annotated[str | None, typer.Option(help="retention: first | recurring.")] = None,
    start_event: Annotated[str | None, typer.Option(help="retention: event that starts a cohort.")] = None,
    return_event: Annotated[str | None, typer.Option(help="retention: event counted as a return.")] = None,
    steps: Annotated[str | None, typer.Option(help="funnel: comma-separated event names, in order.")] = None,
    window_days: Annotated[int | None, typer.Option(help="funnel: conversion window (default 14).")] = None,
    breakdown: Annotated[str | None, typer.Option(help="funnel: property of the first step.")] = None,
    property: Annotated[str | None, typer.Option("--property", help="preferences: event property.")] = None,
    trait: Annotated[str | None, typer.Option(help="preferences: user trait.")] = None,
    output: Output = "-",
    data_dir: DataDir = None,
) -> None:
    """A metric's rows as CSV (the rows of `headwater metrics NAME --json`, flattened)."""
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError
    from headwater.metrics.registry import run_metric
    from headwater.transfer.export_metrics import write_metric_csv

    settings = settings_of(data_dir=data_dir, existing=True)
    options = metric_options(locals())
    try:
        answer = run_metric(settings.data_dir, settings.timezone, name, start, end, tz, options)
    except MetricError as exc:
        fail(exc.message)
    except LakeError as exc:
        fail(str(exc), 1)
    text = io.StringIO(newline="")  # a metric's answer is small: it is in memory already
    rows = write_metric_csv(answer, text)
    with _sink(output) as sink:
        sink.write(text.getvalue().encode())
    if output != "-":
        err.print(f"wrote {rows} rows of {name} to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
