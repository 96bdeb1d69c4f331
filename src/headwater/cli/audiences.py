"""`headwater audiences ...`: definitions, sizes, the nightly recompute, enrich API keys and settings.

Definitions, keys and settings live in the realtime store; a running server sees a change within
a second. Sizes and recompute read the live store (Redis: from any process; memory:// lives in
the server, so use POST /api/v1/audiences/recompute there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, err, settings_of, shared_live_store
from headwater.cli.users import record

audiences_app = typer.Typer(
    help="Audiences and OpenRTB enrichment (docs/targeting.md).", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys of POST /openrtb2/enrich.", no_args_is_help=True)
audiences_app.add_typer(keys_app, name="keys")


def _catalog(data_dir: Path | None) -> Any:
    from headwater.stores.sql.audiences import AudienceCatalog
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        return AudienceCatalog(settings_of(data_dir=data_dir).effective_database_url)
    except StoreUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _read_json(source: str) -> Any:
    text = Path(source).read_text() if not source.lstrip().startswith(("{", "[")) else source
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail(f"not valid JSON: {exc}") from None


def _store_one(catalog: Any, obj: Any, create_only: bool) -> str:
    from headwater.targeting.audience_spec import parse_audience
    from headwater.targeting.audiences import AudienceError

    try:
        parse_audience(obj)
    except AudienceError as exc:
        raise _fail(f"invalid audience {obj.get('id') if isinstance(obj, dict) else ''!r}: {exc}") from None
    try:
        _, created = catalog.put_audience(obj, create_only=create_only)
    except KeyError:
        raise _fail(f"audience {obj['id']!r} exists (use load to replace it)") from None
    return "created" if created else "updated"


@audiences_app.command("create")
def create(
    definition: Annotated[str, typer.Argument(help="The audience as JSON text, or a file holding it.")],
    data_dir: DataDir = None,
) -> None:
    """Create an audience (JSON: id, name, rule, taxonomy_id | proprietary_id, sendable_to_buyers)."""
    obj = _read_json(definition)
    print(f"{_store_one(_catalog(data_dir), obj, True)} audience {obj['id']}")
    record(data_dir, "audience.create", str(obj["id"]))


@audiences_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help='JSON file: an audience, a list, or {"audiences": [...]}.')],
    data_dir: DataDir = None,
) -> None:
    """Create or replace every audience of a file (all are checked before any is stored)."""
    from headwater.targeting.audience_spec import parse_audience
    from headwater.targeting.audiences import AudienceError

    obj = _read_json(str(file))
    items = obj.get("audiences", obj) if isinstance(obj, dict) and "rule" not in obj else obj
    items = items if isinstance(items, list) else [items]
    for i, item in enumerate(items):
        try:
            parse_audience(item)
        except AudienceError as exc:
            raise _fail(f"{file}: audiences[{i}].{exc}") from None
    catalog = _catalog(data_dir)
    for item in items:
        action = _store_one(catalog, item, False)
        record(data_dir, f"audience.{action}", str(item["id"]))
        print(f"{action} audience {item['id']}")


@audiences_app.command("list")
def list_(data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The audiences, one a line (id, sendable, segment, name)."""
    stored = _catalog(data_dir).list_audiences()
    if as_json:
        print(json.dumps([s.definition for s in stored], indent=2))
        return
    for s in stored:
        d = s.definition
        segment = f"segtax4:{d['taxonomy_id']}" if d.get("taxonomy_id") else d.get("proprietary_id") or s.id
        sendable = "sendable" if d.get("sendable_to_buyers") else "private"
        print(f"{s.id}\t{sendable}\t{segment}\t{d.get('name', '')}")


@audiences_app.command("show")
def show(audience_id: str, data_dir: DataDir = None) -> None:
    """One audience's definition and its recorded sizes."""
    catalog = _catalog(data_dir)
    stored = catalog.get_audience(audience_id)
    if stored is None:
        raise _fail(f"no audience {audience_id!r}")
    sizes = [
        {"at": p.measured_at, "source": p.source, "size": p.size} for p in catalog.sizes(audience_id, 30)
    ]
    out = {**stored.definition, "created_at": stored.created_at, "updated_at": stored.updated_at}
    print(json.dumps({**out, "sizes": sizes}, indent=2))


@audiences_app.command("delete")
def delete(audience_id: str, data_dir: DataDir = None) -> None:
    """Delete an audience: its segments are no longer sent."""
    if not _catalog(data_dir).delete_audience(audience_id):
        raise _fail(f"no audience {audience_id!r}")
    record(data_dir, "audience.delete", audience_id)
    print(f"deleted audience {audience_id}")


@audiences_app.command("sizes")
def sizes(
    audience_id: Annotated[str | None, typer.Argument()] = None,
    limit: int = 50,
    data_dir: DataDir = None,
) -> None:
    """Sizes over time (recorded by the nightly recompute), newest first."""
    points = _catalog(data_dir).sizes(audience_id, limit)
    if not points:
        which = f"audience {audience_id!r}" if audience_id else "any audience"
        err.print(
            f"No size recorded for {which} yet: sizes are recorded by the nightly recompute, or now by"
            " `headwater audiences recompute`; `headwater audiences list` shows the definitions."
        )
        return
    for p in points:
        print(f"{p.measured_at}\t{p.audience_id}\t{p.source}\t{p.size}")


@audiences_app.command("recompute")
def recompute(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report the drift, change nothing.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Recompute every audience from the lake and the log, reconcile the live store, print the drift."""
    from headwater.audiences.definitions import Definitions
    from headwater.audiences.service import recompute_now
    from headwater.audiences.state import AudienceState
    from headwater.live.service import TAILER_OPTIONS
    from headwater.stores.live.ports import LiveUnavailableError

    settings = settings_of(data_dir=data_dir)
    state = AudienceState.open(shared_live_store(settings, code=1), TAILER_OPTIONS)
    try:
        print(json.dumps(recompute_now(settings, state, Definitions(_catalog(data_dir)), dry_run), indent=2))
    except LiveUnavailableError as exc:
        raise _fail(str(exc)) from None
    finally:
        state.close()


@audiences_app.command("settings")
def settings_(
    name: Annotated[str | None, typer.Argument(help="Setting to change (omit to list them).")] = None,
    value: Annotated[str | None, typer.Argument()] = None,
    data_dir: DataDir = None,
) -> None:
    """Show or change the enrich settings: provider, gdpr_unknown_applies, block_invalid_us_privacy,
    lookup_timeout_ms."""
    from headwater.audiences.definitions import SETTING_DEFAULTS, check_setting

    catalog = _catalog(data_dir)
    if name is not None:
        if value is None:
            raise _fail(f"give a value for {name!r}")
        try:
            catalog.set_setting(name, check_setting(name, value))
        except ValueError as exc:
            raise _fail(str(exc)) from None
        record(data_dir, "enrich_setting.set", name, {"value": value})
    for key, val in {**SETTING_DEFAULTS, **catalog.settings()}.items():
        print(f"{key}\t{val}")


@keys_app.command("create")
def keys_create(name: str, data_dir: DataDir = None) -> None:
    """Create an enrich API key (printed on the last line, this once: only its hash is stored)."""
    key = _catalog(data_dir).create_key(name)
    record(data_dir, "enrich_key.create", name, {"hint": key.hint})
    err.print(
        f"Created enrich key {key.hint} for {key.name!r}. Copy it now: it will not be shown again"
        " (only its hash is stored; if it is lost, revoke it and create another)."
    )
    print(key.key)


@keys_app.command("list")
def keys_list(all_: Annotated[bool, typer.Option("--all")] = False, data_dir: DataDir = None) -> None:
    """The keys' hints (the keys themselves are not stored), names and states."""
    for k in _catalog(data_dir).list_keys(include_revoked=all_):
        print(f"{k.hint}\t{k.name}\t{k.created_at}\t{k.revoked_at or 'active'}")


@keys_app.command("revoke")
def keys_revoke(key_or_name: str, data_dir: DataDir = None) -> None:
    """Revoke by the full key, its name or its hint (as `keys list` shows it)."""
    from headwater.stores.sql.ports import KeyNotFoundError

    try:
        for k in _catalog(data_dir).revoke_key(key_or_name):
            record(data_dir, "enrich_key.revoke", k.name, {"hint": k.hint})
            print(f"revoked {k.hint} ({k.name})")
    except KeyNotFoundError as exc:
        raise _fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    app.add_typer(audiences_app, name="audiences")
