"""`headwater ...`: serve, config, keys. Every command has --help; --json prints the API's JSON."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from headwater import __version__
from headwater.config import Settings
from headwater.settings_loader import load_settings
from headwater.urls import mask_url

app = typer.Typer(
    help="Headwater: a self-hosted, first-party event pipeline (Segment-compatible collection).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Write keys: one per source (app, site, server).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

err = Console(stderr=True, soft_wrap=True)
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded storage root (env HEADWATER_DATA_DIR).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]error:[/] setting {field!r} (env HEADWATER_{field.upper()}): {e['msg']}")
        raise typer.Exit(2) from None


def _store(settings: Settings) -> Any:
    from headwater.stores.sql.ports import StoreUnavailableError
    from headwater.stores.sql.realtime import open_realtime_store

    try:
        return open_realtime_store(settings.effective_database_url)
    except StoreUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        err.print("Check HEADWATER_DATABASE_URL (or leave it empty for the embedded SQLite store).")
        raise typer.Exit(2) from None


def _keys(settings: Settings) -> Any:
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.keys import SqlWriteKeys
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        return SqlWriteKeys(open_database(settings.effective_database_url))
    except StoreUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        err.print("Check HEADWATER_DATABASE_URL (or leave it empty for the embedded SQLite store).")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", show_default="8000")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; each writes its own log files.", show_default="1")
    ] = None,
) -> None:
    """Start the HTTP server (collection API, health, metrics) on embedded storage by default."""
    from headwater.live.service import check_workers
    from headwater.log.lock import WriterBusyError
    from headwater.ops.logs import configure_logging
    from headwater.server.admin_token import ensure_admin_token
    from headwater.server.run import serve as run_server

    settings = _settings(host=host, port=port, data_dir=data_dir, workers=workers)
    configure_logging(settings.log_level)
    try:
        check_workers(settings)  # an in-process store cannot be shared by several workers
    except RuntimeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    store = _keys(settings)  # fail fast, with a clear message, on a bad database URL
    if not store.list_keys(include_revoked=True):
        first = store.create_key("default")
        err.print(f"First start: created write key for source 'default': {first.key}")
        err.print("(more sources: headwater keys create NAME; list them: headwater keys list)")
    store.db.close()
    token, created = ensure_admin_token(settings)
    if created:
        err.print(f"Admin token (saved in {settings.data_dir / 'admin_token'}): {token}")
    err.print(
        f"Headwater {__version__} on http://{settings.host}:{settings.port}  "
        f"data: {settings.data_dir.resolve()}  workers: {settings.workers}  fsync: {settings.fsync}"
    )
    try:
        code = run_server(settings)
    except WriterBusyError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        err.print(f"[red]error:[/] cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def config(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Print the effective settings (secrets masked) and where each can be set."""
    settings = _settings(data_dir=data_dir)
    values = settings.public_dict()
    if as_json:
        print(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", "environment variable")
    for name, value in values.items():
        env = f"HEADWATER_{name.upper()}" if name in Settings.model_fields else "(derived)"
        table.add_row(name, json.dumps(value, default=str), env)
    Console().print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Source name, e.g. 'ios-app' or 'website'.")],
    origin: Annotated[
        list[str] | None, typer.Option("--origin", help="Restrict browser origins (repeatable).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a write key for a source. The key is the last line of output."""
    if not name.strip():
        err.print("[red]error:[/] the source name may not be empty")
        raise typer.Exit(2)
    store = _keys(_settings(data_dir=data_dir))
    wk = store.create_key(name.strip(), tuple(o.rstrip("/") for o in origin or ()))
    store.db.close()
    err.print(f"Created write key for source {wk.name!r}. Send it as the HTTP Basic user or 'writeKey'.")
    print(wk.key)


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """List write keys."""
    store = _keys(_settings(data_dir=data_dir))
    keys = store.list_keys(include_revoked=include_revoked)
    store.db.close()
    rows = [
        {
            "key": k.key,
            "name": k.name,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "allowed_origins": list(k.allowed_origins),
        }
        for k in keys
    ]
    if as_json:
        print(json.dumps({"keys": rows}, indent=2))
        return
    table = Table("name", "key", "created", "revoked", "origins")
    for r in rows:
        table.add_row(
            r["name"],
            r["key"],
            r["created_at"][:19],
            (r["revoked_at"] or "")[:19],
            " ".join(r["allowed_origins"]) or "any",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_or_name: Annotated[str, typer.Argument(help="The key, or a source name (revokes all its keys).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a write key: requests with it get 401 within a second."""
    from headwater.stores.sql.ports import KeyNotFoundError

    store = _keys(_settings(data_dir=data_dir))
    try:
        revoked = store.revoke_key(key_or_name)
    except KeyNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}. See `headwater keys list`.")
        raise typer.Exit(1) from None
    finally:
        store.db.close()
    for k in revoked:
        print(f"revoked {k.key} ({k.name})")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "main", "mask_url"]


from headwater.commands.realtime import db_app, realtime_app  # noqa: E402
from headwater.commands.tailing import replay_app, tail  # noqa: E402

app.add_typer(db_app, name="db")
app.add_typer(realtime_app, name="realtime")
app.add_typer(replay_app, name="replay")
app.command("tail")(tail)

from headwater.commands.batch import etl_app  # noqa: E402
from headwater.commands.demo import demo  # noqa: E402
from headwater.commands.metrics import metrics_command  # noqa: E402

app.add_typer(etl_app, name="etl")
app.command("metrics")(metrics_command)
app.command("demo")(demo)

from headwater.commands.audiences import audiences_app  # noqa: E402

app.add_typer(audiences_app, name="audiences")

from headwater.commands.live import live_app  # noqa: E402

app.add_typer(live_app, name="live")

import headwater.commands.experiments  # noqa: E402, F401  (registers `headwater experiments`)
