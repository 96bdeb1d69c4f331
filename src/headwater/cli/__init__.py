"""`headwater ...`: one module per command group, each registered here explicitly. Every command
has --help; --json prints the same JSON as the HTTP API."""

from __future__ import annotations

import os
import sys

import typer

from headwater.cli import (
    alerts,
    audiences,
    cluster,
    cohorts,
    config,
    dashboards,
    db,
    demo,
    etl,
    experiments,
    exports,
    imports,
    insight_paths,
    insight_web,
    insights,
    keys,
    live,
    metrics,
    people,
    privacy,
    realtime,
    replay,
    saved,
    serve,
    shipping,
    users,
    warehouse,
)

app = typer.Typer(
    help="Headwater: a self-hosted, first-party event pipeline (Segment-compatible collection).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (
    serve,
    config,
    keys,
    demo,
    metrics,
    insights,
    cohorts,
    dashboards,
    alerts,
    people,
    etl,
    experiments,
    audiences,
    realtime,
    live,
    replay,
    db,
    warehouse,
    shipping,
    cluster,
    users,
    exports,
    imports,
    privacy,
):
    group.register(app)
insights.insights_app.command("paths")(insight_paths.paths)
insights.insights_app.command("web")(insight_web.web)
saved.register(insights.insights_app)  # insights save, insights saved ...


def main() -> None:
    # Before anything is created: directories 0700 and files 0600 (the data directory holds user
    # ids, traits and secrets), in the server, its workers (they inherit it) and every command.
    os.umask(0o077)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
