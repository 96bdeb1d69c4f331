"""`headwater metrics NAME --start D --end D [--tz TZ] [--json]`: the API's metrics from the shell."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, settings_of


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
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute a metric over the lake and today's log (the JSON of GET /api/v1/metrics/NAME)."""
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError
    from headwater.metrics.registry import run_metric

    settings = settings_of(data_dir=data_dir)
    options: dict[str, Any] = {
        "period": period,
        "mode": mode,
        "cohort": cohort,
        "start_event": start_event,
        "return_event": return_event,
        "steps": steps,
        "window_days": window_days,
        "breakdown": breakdown,
        "property": property,
        "trait": trait,
    }
    try:
        out = run_metric(settings.data_dir, settings.timezone, name, start, end, tz, options)
    except MetricError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    except LakeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(out, indent=2, default=str))
        return
    rows = out["rows"]
    flat = []
    for r in rows:
        row = {k: v for k, v in r.items() if not isinstance(v, list | dict)}
        for v in r.get("values", []):  # retention: one column per period, "users (rate)"
            mark = "*" if v["incomplete"] else ""
            rate = "" if v["rate"] is None else f" ({v['rate']:.0%})"
            row[f"p{v['period']}"] = f"{v['users']}{rate}{mark}"
        flat.append(row)
    columns = list(dict.fromkeys(k for r in flat for k in r))
    table = Table(*columns, title=f"{name} {out['start']}..{out['end']} ({out['tz']})")
    for r in flat:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    Console().print(table)
    for key, value in out.items():
        if key not in ("metric", "start", "end", "tz", "rows") and value not in (None, [], {}):
            Console().print(f"{key}: {json.dumps(value, default=str)}")


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_command)
