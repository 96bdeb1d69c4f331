"""`headwater config` and `headwater version`."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from headwater import __version__
from headwater.cli.common import DataDir, JsonOpt, settings_of
from headwater.config import Settings


def config(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Print the effective settings (secrets masked) and where each can be set."""
    settings = settings_of(data_dir=data_dir)
    values = settings.public_dict()
    if values.get("admin_token") is None and (settings.data_dir / "admin_token").is_file():
        # made by the first `headwater serve` (docs/security.md): set, though not in the environment
        values["admin_token"] = f"*** (in {settings.data_dir / 'admin_token'})"
    if as_json:
        print(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", "environment variable")
    for name, value in values.items():
        env = f"HEADWATER_{name.upper()}" if name in Settings.model_fields else "(derived)"
        table.add_row(name, json.dumps(value, default=str), env)
    Console().print(table)


def version() -> None:
    """Print the version."""
    print(__version__)


def register(app: typer.Typer) -> None:
    app.command("config")(config)
    app.command("version")(version)
