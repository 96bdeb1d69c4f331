"""`headwater ship [--dry-run] [--json]` and `headwater ship status`: log shipping from the shell.

The store is HEADWATER_OBJECT_STORE_URL (``gs://BUCKET/PREFIX`` or ``s3://BUCKET/PREFIX``); a running
server ships once a day after the daily ETL by itself. See docs/scale-out.md, "Log shipping".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of

ship_app = typer.Typer(
    help="Ship closed log files (events, quarantine) to object storage: upload, verify by checksum,"
    " record in the manifest, and delete local days that raw-log retention lets go.",
    invoke_without_command=True,
)

_HINT = "Set HEADWATER_OBJECT_STORE_URL=gs://BUCKET/PREFIX or s3://BUCKET/PREFIX; see docs/scale-out.md"


def _open(data_dir: Path | None) -> tuple[Any, Any]:
    from headwater.shipping.service import ShippingError, open_store

    settings = settings_of(existing=True, data_dir=data_dir)
    try:
        return settings, open_store(settings)
    except ShippingError as exc:  # (the hint only where the message does not say it already)
        fail(str(exc), hint=None if "HEADWATER_OBJECT_STORE_URL" in str(exc) else _HINT)


@ship_app.callback()
def ship(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be uploaded; upload and delete nothing.")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload every closed log file not shipped yet, verify it, and delete what retention allows.

    A file is closed 5 minutes after its UTC day ends. Running it again uploads nothing twice."""
    if ctx.invoked_subcommand is not None:
        return
    from headwater.batch.holds import not_exported
    from headwater.shipping.service import ship as ship_logs

    settings, store = _open(data_dir)
    try:
        if as_json:
            report = ship_logs(settings, dry_run=dry_run, still_needed=not_exported(settings), store=store)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err,
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(name: str, done: int, size: int) -> None:
                    if name not in tasks:
                        tasks[name] = bar.add_task(name, total=size)
                    bar.update(tasks[name], completed=done)

                report = ship_logs(
                    settings,
                    dry_run=dry_run,
                    progress=progress,
                    still_needed=not_exported(settings),
                    store=store,
                )
    finally:
        store.close()
    out = report.as_dict()
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        _print_report(out)
    if report.errors:
        raise typer.Exit(1)


def _print_report(out: dict[str, Any]) -> None:
    console = Console()
    mb = out["bytes"] / 1e6
    rate = f" ({mb / out['seconds']:.1f} MB/s)" if out["seconds"] and mb else ""
    what = "would ship" if out["dry_run"] else "shipped"
    console.print(
        f"{what} to {out['store']}: {len(out['uploaded'])} files uploaded and verified"
        + (f" and {len(out['parts'])} hourly parts of today's files" if out["parts"] else "")
        + f", {mb:.1f} MB in {out['seconds']} s{rate}; {len(out['deleted'])} deleted locally"
    )
    for name in out["parts"]:
        console.print(f"  part     {name}")
    for name, why in sorted(out["skipped"].items()):
        console.print(f"  waits    {name}: {why}")
    for name, why in sorted(out["kept"].items()):
        console.print(f"  kept     {name}: {why}")
    for name in out["deleted"]:
        console.print(f"  deleted  {name}")
    for name, why in sorted(out["errors"].items()):
        console.print(f"  [red]error[/]    {name}: {why}")
    if out["errors"]:
        console.print("nothing was deleted that is not verified in the store; the next run retries")


@ship_app.command("status")
def status(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """What is shipped, what waits and why, and the lag (how long the oldest closed file has waited)."""
    from headwater.batch.holds import not_exported
    from headwater.shipping.status import shipping_status

    settings, store = _open(data_dir)
    try:
        out = shipping_status(settings, store, datetime.now(UTC), not_exported(settings))
    finally:
        store.close()
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        console = Console()
        console.print(f"store     {out['store']}")
        if out["error"]:
            console.print(f"[red]error[/]     {out['error']}")
        console.print(
            f"local     {out['shipped']} shipped, {out['waiting']} waiting, {out['open']} still open"
        )
        gone = out["shipped_elsewhere"]
        console.print(f"elsewhere {gone['files']} files ({gone['bytes']} bytes) shipped and not on this disk")
        console.print(f"lag       {out['lag_seconds']} s (oldest waiting: {out['oldest_waiting'] or '-'})")
        for f in out["files"]:
            console.print(f"  {f['state']:<8} {f['name']} ({f['bytes']} bytes): {f['why']}")
    if out["error"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(ship_app, name="ship")
