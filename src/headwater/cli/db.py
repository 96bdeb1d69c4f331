"""`headwater db upgrade`: the realtime store's schema."""

from __future__ import annotations

import typer

from headwater.cli.common import DataDir, database, settings_of

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


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
