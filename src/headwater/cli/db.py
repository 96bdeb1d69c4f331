"""`headwater db upgrade` (the realtime store's schema) and `headwater db copy` (its control plane,
to another store: growing from SQLite to PostgreSQL, or back)."""

from __future__ import annotations

from typing import Annotated

import typer

from headwater.cli.common import DataDir, database, err, fail, settings_of

db_app = typer.Typer(help="The realtime store's database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending schema migrations to the realtime store (serve also does it at start)."""
    from headwater.urls import mask_url

    settings = settings_of(data_dir=data_dir)
    store = database(settings, migrate=False)
    try:
        applied = store.upgrade()
        version = store.schema_version()
    finally:
        store.close()
    url = mask_url(settings.effective_database_url)
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))} to {url}; schema version {version}")
    else:
        print(f"{url} is up to date (schema version {version})")


@db_app.command("copy")
def db_copy(
    to: Annotated[
        str, typer.Option("--to", help="The store to copy into: postgresql://... or sqlite:///path.")
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from", help="The store to copy from (default: the configured one).", show_default=False
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the target's control plane if it holds another (the way back to an older copy).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Copy the control plane (write keys, experiments, audiences, enrich keys and settings) into
    another store, in one transaction, and verify it. Refuses, naming the differences, when the
    target already holds a different one. The aggregates are not copied: the tailers rebuild them
    from the log."""
    from headwater.stores.registry import UnknownBackendError
    from headwater.stores.sql.control_plane import ControlPlaneConflict, copy_control_plane
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.ports import StoreUnavailableError
    from headwater.urls import mask_url

    settings = settings_of(data_dir=data_dir)
    source_url = source or settings.effective_database_url
    if source_url == to:
        fail("--to names the store copied from: nothing to do")
    try:
        src = open_database(source_url)
    except (StoreUnavailableError, UnknownBackendError) as exc:
        fail(f"--from: {exc}")
    try:
        try:
            target = open_database(to)
        except (StoreUnavailableError, UnknownBackendError) as exc:
            fail(f"--to: {exc}")
        try:
            report = copy_control_plane(src, target, replace=replace)
        except ControlPlaneConflict as exc:
            fail(
                str(exc),
                code=1,
                hint="Copy into an empty store, or add --replace to overwrite the target's control plane.",
            )
        finally:
            target.close()
    finally:
        src.close()
    for line in report.replaced:
        err.print(f"replaced in the target: {line}")
    what = "copied" if report.copied else "already there"
    print(f"{what}: {report.summary} ({mask_url(source_url)} -> {mask_url(to)}); verified")
    if report.copied and not source:
        err.print(f"To use it: HEADWATER_DATABASE_URL={mask_url(to)} headwater serve")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
