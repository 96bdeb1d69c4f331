"""`headwater dashboards [list|create|show|delete]`: dashboards of saved insights (docs/dashboard.md,
"Saved insights, dashboards, alerts"), the same ones and the same JSON as /api/v1/dashboards. A
dashboard is named by its id or, when no other has it, its name; so is a tile's insight."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, JsonOpt, fail
from headwater.cli.saved import find, open_saved, read_json

dashboards_app = typer.Typer(
    help="Dashboards: saved insights arranged on a grid (docs/dashboard.md). Without a command: the list.",
    invoke_without_command=True,
)
_TILES_HELP = (
    'The tiles: a JSON file, - for standard input, or the JSON itself: [{"insight": ID or name, "x": 0,'
    ' "y": 0, "w": 6, "h": 4}, ...] (or {"tiles": [...]}). Without x and y a tile goes right of the one'
    " before when it fits in the 12 columns, else at the left below them all; 6 wide and 4 high unless given."
)
Ref = Annotated[str, typer.Argument(help="The dashboard's id, or its name.", show_default=False)]


def find_dashboard(saved: Any, ref: str) -> Any:
    return find(saved.dashboards(), ref, "dashboard", "headwater dashboards list")


def _tiles(source: str, saved: Any) -> list[Any]:
    """The tiles of a file, each insight named by id or name turned into its id."""
    raw = read_json(source, "the tiles")
    if isinstance(raw, dict) and set(raw) == {"tiles"}:
        raw = raw["tiles"]
    if not isinstance(raw, list):
        fail('the tiles must be a JSON array of {"insight", "x", "y", "w", "h"} (or {"tiles": [...]})')
    insights = saved.insights()
    ids = {i.id for i in insights}
    by_name: dict[str, list[str]] = {}
    for item in insights:
        by_name.setdefault(item.name, []).append(item.id)
    out: list[Any] = []
    for i, tile in enumerate(raw):
        ref = tile.get("insight") if isinstance(tile, dict) else None
        if isinstance(ref, str) and ref not in ids and len(by_name.get(ref, [])) > 1:
            fail(
                f"tiles[{i}].insight: {len(by_name[ref])} saved insights are named {ref!r}: give one's id", 1
            )
        if isinstance(ref, str) and ref not in ids and len(by_name.get(ref, [])) == 1:
            tile = {**tile, "insight": by_name[ref][0]}
        out.append(tile)
    return out


@dashboards_app.callback()
def dashboards_main(ctx: typer.Context, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Dashboards: without a command, the list."""
    if ctx.invoked_subcommand is None:
        list_(data_dir, as_json)


@dashboards_app.command("list")
def list_(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Every dashboard: id, number of tiles, name."""
    with open_saved(data_dir) as saved:
        found = saved.dashboards()
    if as_json:
        print(json.dumps({"dashboards": [d.as_json() for d in found]}, indent=2, ensure_ascii=False))
        return
    if not found:
        print("no dashboards yet: headwater dashboards create NAME --tiles-file FILE")
        return
    for item in found:
        tiles = f"{len(item.tiles)} tile{'s' if len(item.tiles) != 1 else ''}"
        print(f"{item.id:<12} {tiles:<10} {item.name}")


@dashboards_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The dashboard's name.")],
    tiles_file: Annotated[str, typer.Option("--tiles-file", help=_TILES_HELP, show_default=False)] = "[]",
    description: Annotated[str, typer.Option("--description", help="A line saying what it is for.")] = "",
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a dashboard of saved insights."""
    from headwater.insights.saved import parse_dashboard
    from headwater.lake.params import MetricError
    from headwater.stores.sql.saved import UnknownInsight

    with open_saved(data_dir) as saved:
        tiles = _tiles(tiles_file, saved)
        try:
            spec = parse_dashboard({"name": name, "description": description, "tiles": tiles})
        except MetricError as exc:
            fail(exc.message, hint='A tile: {"insight": ID or name, "x", "y", "w", "h"} (docs/dashboard.md).')
        try:
            stored = saved.create_dashboard(spec.name, spec.description, spec.tiles)
        except UnknownInsight as exc:
            fail(
                f"tiles[{exc.index}].insight: no saved insight {exc.insight_id!r}",
                hint="`headwater insights saved list` lists them (by id and name).",
            )
    if as_json:
        print(json.dumps(stored.as_json(), indent=2, ensure_ascii=False))
        return
    print(f"created dashboard {stored.id}: {stored.name} ({len(stored.tiles)} tiles)")


@dashboards_app.command("show")
def show(ref: Ref, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """A dashboard: its tiles, each an insight with its place (x, y) and size (w x h)."""
    with open_saved(data_dir) as saved:
        item = find_dashboard(saved, ref)
    if as_json:
        print(json.dumps(item.as_json(), indent=2, ensure_ascii=False))
        return
    print(f"{item.name} ({item.id})" + (f": {item.description}" if item.description else ""))
    if not item.tiles:
        print("  no tiles")
    for tile in item.tiles:
        place = f"at {tile.x},{tile.y} {tile.w}x{tile.h}"
        print(f"  {place:<18} {tile.insight:<12} {tile.kind:<10} {tile.name}")


@dashboards_app.command("delete")
def delete(ref: Ref, data_dir: DataDir = None) -> None:
    """Delete a dashboard (its insights are kept)."""
    with open_saved(data_dir) as saved:
        item = find_dashboard(saved, ref)
        saved.delete_dashboard(item.id)
    print(f"deleted dashboard {item.id}")


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")
