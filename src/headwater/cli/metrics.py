"""`headwater metrics NAME --start D --end D [--tz TZ] [--json]`: the API's metrics from the shell."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from headwater.cli.common import DataDir, JsonOpt, err, settings_of
from headwater.cli.metric_table import metric_table

if TYPE_CHECKING:
    from headwater.config import Settings
    from headwater.warehouse.metrics import Cost


def metrics_command(
    name: Annotated[
        str,
        typer.Argument(
            help="dau, wau, mau, stickiness, features, preferences, sessions, retention, funnel, lifecycle"
        ),
    ],
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD) in the time zone.")],
    end: Annotated[str, typer.Option("--end", help="Last day (YYYY-MM-DD), included.")],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the project's).")] = None,
    period: Annotated[str | None, typer.Option(help="retention, lifecycle: day | week | month.")] = None,
    mode: Annotated[str | None, typer.Option(help="retention: on | on_or_after.")] = None,
    cohort: Annotated[str | None, typer.Option(help="retention: first | recurring.")] = None,
    start_event: Annotated[
        str | None, typer.Option(help="retention: event that puts a user in a cohort.")
    ] = None,
    return_event: Annotated[
        str | None, typer.Option(help="retention: event that counts as a return.")
    ] = None,
    steps: Annotated[str | None, typer.Option(help="funnel: comma-separated event names, in order.")] = None,
    window_days: Annotated[int | None, typer.Option(help="funnel: conversion window (default 14).")] = None,
    breakdown: Annotated[
        str | None, typer.Option(help="funnel: property of the first step to split by.")
    ] = None,
    property: Annotated[str | None, typer.Option("--property", help="preferences: event property.")] = None,
    trait: Annotated[str | None, typer.Option(help="preferences: user trait.")] = None,
    in_cohort: Annotated[
        str | None,
        typer.Option(
            "--in-cohort", help="Only the people of this cohort (headwater cohorts list; lake engine)."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="lake (default: the lake and today's log) or warehouse (BigQuery, HEADWATER_WAREHOUSE_URL;"
            " dau, wau, mau, features, retention, funnel, lifecycle)."
        ),
    ] = "lake",
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute a metric over the lake and today's log, or in the warehouse (the JSON of GET
    /api/v1/metrics/NAME)."""
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError

    settings = settings_of(data_dir=data_dir, existing=True)
    options = metric_options(locals())
    if in_cohort is not None:
        options["in_cohort"] = in_cohort
    cost: Cost | None = None
    try:
        if engine == "warehouse":
            out, cost = _warehouse_metric(settings, name, start, end, tz, options)
        elif engine == "lake":
            from headwater.insights.cohorts import Cohorts
            from headwater.metrics.registry import run_metric

            cohorts = Cohorts(settings.data_dir, settings.effective_database_url)
            out = run_metric(settings.data_dir, settings.timezone, name, start, end, tz, options, cohorts)
        else:
            raise MetricError("bad_parameter", f"option '--engine' must be lake or warehouse: {engine!r}")
    except MetricError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    except LakeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(out, indent=2, default=str))
        return
    metric_table(name, out, Console())
    if cost is not None:
        billed = (
            "not reported" if cost.bytes_processed is None else f"{cost.bytes_processed:,} bytes processed"
        )
        Console().print(f"warehouse: {cost.queries} queries, {billed}")


def _warehouse_metric(
    settings: Settings, name: str, start: str, end: str, tz: str | None, options: dict[str, Any]
) -> tuple[dict[str, Any], Cost]:
    """The metric from the warehouse; exits 2 without a warehouse URL, 1 when the warehouse fails."""
    from headwater.stores.warehouse import open_warehouse
    from headwater.stores.warehouse.ports import WarehouseError
    from headwater.warehouse.metrics import Cost, check_metric, run_warehouse_metric

    check_metric(name)  # a lake-only or unknown metric is refused before the URL is asked for
    if not settings.warehouse_url:
        err.print(
            "[red]error:[/] --engine warehouse needs a warehouse: set HEADWATER_WAREHOUSE_URL"
            " (bigquery://PROJECT/DATASET), see docs/warehouse.md"
        )
        raise typer.Exit(2)
    cost = Cost()
    try:
        warehouse = open_warehouse(settings.warehouse_url)
        try:
            out = run_warehouse_metric(warehouse, settings.timezone, name, start, end, tz, options, cost)
        finally:
            warehouse.close()
    except WarehouseError as exc:
        err.print(f"[red]error:[/] the warehouse failed: {exc}")
        raise typer.Exit(1) from None
    return out, cost


#: the options of `headwater metrics NAME` (and `export metrics NAME`), as the metrics take them
METRIC_OPTIONS = (
    "period",
    "mode",
    "cohort",
    "start_event",
    "return_event",
    "steps",
    "window_days",
    "breakdown",
    "property",
    "trait",
)


def metric_options(values: dict[str, Any]) -> dict[str, Any]:
    """The metric options among a command's parameters (its ``locals()``)."""
    return {name: values[name] for name in METRIC_OPTIONS}


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_command)
