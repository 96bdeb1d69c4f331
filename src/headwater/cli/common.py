"""What every command group shares: the options, reading the settings, opening the stores, and
failing with one clear line (never a traceback) that says what to do next."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from headwater.config import Settings

err = Console(stderr=True, soft_wrap=True)
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded storage root (env HEADWATER_DATA_DIR).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


def fail(message: str, code: int = 2, hint: str | None = None) -> NoReturn:
    """Print ``error: message`` (and a hint) on stderr and exit with ``code``."""
    err.print(f"[red]error:[/] {message}")
    if hint:
        err.print(hint)
    raise typer.Exit(code)


def settings_of(existing: bool = False, **overrides: Any) -> Settings:
    """The settings (environment, headwater.toml, then these flags); a bad one ends the command.
    ``existing``: a command that only reads refuses a data directory that is not there (a mistyped
    --data-dir would otherwise be created, and answer empty rows as if there were no data)."""
    from headwater.settings_loader import load_settings

    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]error:[/] setting {field!r} (env HEADWATER_{field.upper()}): {e['msg']}")
        raise typer.Exit(2) from None
    if existing and not settings.data_dir.is_dir():
        fail(
            f"no data directory at {settings.data_dir}",
            hint="Check --data-dir or HEADWATER_DATA_DIR (`headwater serve` creates the one it is given).",
        )
    return settings


_DATABASE_HINT = "Check HEADWATER_DATABASE_URL (or leave it empty for the embedded SQLite store)."


def realtime_store(settings: Settings) -> Any:
    """The realtime store (aggregates); an unreachable one ends the command."""
    from headwater.stores.sql.ports import StoreUnavailableError
    from headwater.stores.sql.realtime import open_realtime_store

    try:
        return open_realtime_store(settings.effective_database_url)
    except StoreUnavailableError as exc:
        fail(str(exc), hint=_DATABASE_HINT)


def database(settings: Settings, migrate: bool = True) -> Any:
    """The SQL database (write keys, catalogs); an unreachable one ends the command."""
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        return open_database(settings.effective_database_url, migrate=migrate)
    except StoreUnavailableError as exc:
        fail(str(exc), hint=_DATABASE_HINT)


def catalog(kind: type[Any], settings: Settings) -> Any:
    """A catalog of the SQL store (ExperimentCatalog, AudienceCatalog); unreachable: the command ends."""
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        return kind(settings.effective_database_url)
    except StoreUnavailableError as exc:
        fail(str(exc), hint=_DATABASE_HINT)


def shared_live_store(settings: Settings, code: int = 2) -> Any:
    """The live store backend, refused (exit ``code``) when it lives inside the server process."""
    from headwater.stores.live import open_live
    from headwater.stores.live.ports import LiveUnavailableError
    from headwater.stores.registry import backend_for

    if backend_for(settings.redis_url, "live").in_process:
        fail(
            "the live store is memory:// (inside the server process): ask the running server through "
            "its API, or configure Redis (HEADWATER_REDIS_URL=redis://host:6379/0)",
            code,
        )
    try:
        return open_live(settings.redis_url)
    except LiveUnavailableError as exc:
        fail(str(exc), code)
