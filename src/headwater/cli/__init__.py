"""`headwater ...`: one module per command group, each registered here explicitly. Every command
has --help; --json prints the same JSON as the HTTP API."""

from __future__ import annotations

import sys

import typer

from headwater.cli import (
    audiences,
    config,
    db,
    demo,
    etl,
    experiments,
    keys,
    live,
    metrics,
    realtime,
    replay,
    serve,
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
    etl,
    experiments,
    audiences,
    realtime,
    live,
    replay,
    db,
    warehouse,
):
    group.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
