"""`headwater keys create|list|revoke`: the sources' write keys."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, database, err, fail, settings_of
from headwater.cli.users import record

keys_app = typer.Typer(help="Write keys: one per source (app, site, server).", no_args_is_help=True)


def _keys(data_dir: Any) -> Any:
    from headwater.stores.sql.keys import SqlWriteKeys

    return SqlWriteKeys(database(settings_of(data_dir=data_dir)))


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
        fail("the source name may not be empty")
    keys = _keys(data_dir)
    try:
        wk = keys.create_key(name.strip(), tuple(o.rstrip("/") for o in origin or ()))
    finally:
        keys.db.close()
    record(data_dir, "write_key.create", wk.name, {"origins": list(wk.allowed_origins)})
    err.print(f"Created write key for source {wk.name!r}. Send it as the HTTP Basic user or 'writeKey'.")
    print(wk.key)


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """List write keys."""
    keys = _keys(data_dir)
    try:
        found = keys.list_keys(include_revoked=include_revoked)
    finally:
        keys.db.close()
    rows = [
        {
            "key": k.key,
            "name": k.name,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "allowed_origins": list(k.allowed_origins),
        }
        for k in found
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

    keys = _keys(data_dir)
    try:
        revoked = keys.revoke_key(key_or_name)
    except KeyNotFoundError as exc:
        fail(f"{exc}. See `headwater keys list`.", code=1)
    finally:
        keys.db.close()
    for k in revoked:
        record(data_dir, "write_key.revoke", k.name, {"key": k.key})
        print(f"revoked {k.key} ({k.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
