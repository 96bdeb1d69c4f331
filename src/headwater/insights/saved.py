"""Saved insights and dashboards, checked (docs/dashboard.md, "Saved insights, dashboards, alerts").

A saved insight is a name, a kind and the query its endpoint takes: the body of
``POST /api/v1/insights/{trend,paths,web}``, or for ``funnel`` and ``retention`` the metrics API's
parameters as JSON (``{"start", "end", "tz", "steps": [...], "window_days": 14}``). The query is
checked by the very parser its endpoint uses, and a refusal names the field under ``query``
(``query.series[0].measure``). A dashboard is a name and tiles, each a saved insight placed on a
grid (``x``, ``y``, ``w``, ``h``). Every refusal is a MetricError (400) naming the field.

Running a saved insight (:func:`run_saved`) imports the lake's query (DuckDB, pyarrow) on first use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from headwater.insights.paths_request import parse_paths
from headwater.insights.request import bad, parse_trend, text_field
from headwater.insights.schema import TrendQuery
from headwater.insights.web_request import parse_web
from headwater.insights.web_schema import WebQuery
from headwater.lake.params import MetricError, make_range
from headwater.metrics.options import parse_steps, parse_window, retention_options

if TYPE_CHECKING:
    from headwater.insights.cohorts import Cohorts

KINDS = ("trend", "paths", "web", "funnel", "retention")
#: the metrics API's parameters a funnel or retention query may hold, besides start, end, tz
METRIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "funnel": ("steps", "window_days", "breakdown", "in_cohort"),
    "retention": ("period", "mode", "cohort", "start_event", "return_event", "in_cohort"),
}
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_TILES = 100
GRID_COLUMNS = 12  # the dashboard's grid (board.js)
MAX_POSITION = 10_000
MAX_SIZE = 100
#: fields of the answers that a client may send back unchanged (they are not read)
READ_ONLY = ("id", "created_at", "updated_at")
INSIGHT_FIELDS = ("name", "kind", "query", "description")
DASHBOARD_FIELDS = ("name", "description", "tiles")
TILE_FIELDS = ("insight", "x", "y", "w", "h")
TILE_ECHOES = ("name", "kind")  # the insight's, added to the answers' tiles
_TYPES: dict[str, type[Any]] = {"trend": TrendQuery, "web": WebQuery}
_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_FIELD = re.compile(r"Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]*)`")
_NAMED = re.compile(r"^(?:field|parameter) '")


@dataclass(frozen=True, slots=True)
class InsightSpec:
    name: str
    kind: str
    query: dict[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class TileSpec:
    insight: str
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    name: str
    description: str
    tiles: tuple[TileSpec, ...]


def _object(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise MetricError("bad_body", f"the body must be a JSON object: {what}")
    return body


def _unknown(body: Mapping[str, Any], fields: tuple[str, ...], what: str, prefix: str = "") -> None:
    unknown = sorted(str(k) for k in body if k not in fields and k not in READ_ONLY)
    if unknown:
        raise bad(prefix + unknown[0], f"is not a field of {what} (fields: {', '.join(fields)})")


def _name(value: object, field: str = "name") -> str:
    if value is None:
        raise bad(field, "is required: a non-empty string", "missing_field")
    name = text_field(value, field, MAX_NAME).strip()
    if not name:
        raise bad(field, "must not be blank")
    return name


def _description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad("description", "must be a string")
    return text_field(value, "description", MAX_DESCRIPTION) if value else ""


def parse_insight(body: object, project_tz: str, current: InsightSpec | None = None) -> InsightSpec:
    """A saved insight from a JSON object (``current``: the stored one a PUT changes; the fields the
    body leaves out are kept)."""
    obj = _object(body, '{"name", "kind", "query", "description"}')
    _unknown(obj, INSIGHT_FIELDS, "a saved insight")
    name = _name(obj.get("name")) if "name" in obj or current is None else current.name
    kind = obj.get("kind", current.kind if current else None)
    if kind is None:
        raise bad("kind", f"is required: one of {', '.join(KINDS)}", "missing_field")
    if kind not in KINDS:
        raise bad("kind", f"must be one of {', '.join(KINDS)}: {kind!r}")
    query = obj.get("query", current.query if current else None)
    if query is None:
        raise bad(
            "query", "is required: the body of the insight's endpoint (docs/insights.md)", "missing_field"
        )
    check_query(kind, query, project_tz)
    assert isinstance(query, dict)
    description = (
        _description(obj["description"]) if "description" in obj else (current.description if current else "")
    )
    return InsightSpec(name, str(kind), query, description)


def check_query(kind: str, query: object, project_tz: str) -> None:
    """Refuse a query its endpoint would refuse, the field named under ``query``."""
    if not isinstance(query, dict):
        raise bad("query", "must be a JSON object: the body of the insight's endpoint (docs/insights.md)")
    _no_nul(query, "query")
    try:
        body = endpoint_body(kind, query)
        if kind == "trend":
            parse_trend(body, project_tz)
        elif kind == "web":
            parse_web(body, project_tz)
        elif kind == "paths":
            parse_paths(body, project_tz)
        else:
            _check_metric(kind, query, project_tz)
    except MetricError as exc:
        raise in_query(exc) from None


def _no_nul(value: object, field: str) -> None:
    """Refuse the NUL character anywhere (PostgreSQL's text cannot hold it), naming where."""
    if isinstance(value, str) and "\x00" in value:
        raise bad(field, "may not hold the NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, field)
            _no_nul(item, f"{field}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nul(item, f"{field}[{i}]")


def in_query(exc: MetricError) -> MetricError:
    """The refusal of a query's parser, its field named under ``query`` (``query.series``)."""
    message = _NAMED.sub("field 'query.", exc.message, count=1)
    if message == exc.message:
        message = f"field 'query': {exc.message}"
    return MetricError(exc.code, message, exc.status)


def endpoint_body(kind: str, query: dict[str, Any]) -> Any:
    """The query as its endpoint's parser reads it: the trend and web bodies as the HTTP API decodes
    them (their msgspec types, defaults filled in), the others as given."""
    kind_type = _TYPES.get(kind)
    if kind_type is None:
        return query
    try:
        decoded = msgspec.convert(query, kind_type)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, kind) from None
    return msgspec.to_builtins(decoded)


def _validation_error(exc: msgspec.ValidationError, kind: str) -> MetricError:
    found = _AT.fullmatch(str(exc))
    message, path = (found["message"], found["path"] or "") if found else (str(exc), "")
    path = path.lstrip(".")
    named = _FIELD.fullmatch(message)
    if named:
        field = f"{path}.{named['name']}" if path else named["name"]
        if named["what"] == "missing required":
            return MetricError("missing_field", f"field {field!r} is required (see docs/insights.md)")
        return MetricError("bad_field", f"field {field!r} is not a field of a {kind} query here")
    text = message[:1].lower() + message[1:]
    return MetricError("bad_field", f"field {path!r}: {text}" if path else f"the query: {text}")


def _check_metric(kind: str, query: Mapping[str, Any], project_tz: str) -> None:
    options = METRIC_OPTIONS[kind]
    fields = ("start", "end", "tz", *options)
    unknown = sorted(str(k) for k in query if k not in fields)
    if unknown:
        raise bad(unknown[0], f"is not a parameter of the {kind} metric (fields: {', '.join(fields)})")
    for name in ("start", "end", "tz", "breakdown", "in_cohort", "start_event", "return_event"):
        value = query.get(name)
        if value is not None and (not isinstance(value, str) or (value == "" and name not in ("tz",))):
            raise bad(name, "must be a non-empty string")
    make_range(query.get("start"), query.get("end"), query.get("tz"), project_tz)
    if kind == "funnel":
        steps = query.get("steps")
        if isinstance(steps, list) and not all(isinstance(s, str) for s in steps):
            raise bad("steps", "must be an array of event names (or one comma-separated string)")
        if steps is not None and not isinstance(steps, str | list):
            raise bad("steps", "must be an array of event names (or one comma-separated string)")
        parse_steps(steps)
        window = query.get("window_days")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int | str)):
            raise bad("window_days", f"must be an integer from 1 to 365: {window!r}")
        parse_window(window)
    else:
        for name in ("period", "mode", "cohort"):
            if query.get(name) is not None and not isinstance(query.get(name), str):
                raise bad(name, "must be a string")
        retention_options(query.get("period"), query.get("mode"), query.get("cohort"))


def with_range(query: dict[str, Any], start: str | None, end: str | None, tz: str | None) -> dict[str, Any]:
    """The query over another range (the dashboard's): the given ones of start, end and tz replaced."""
    out = dict(query)
    for name, value in (("start", start), ("end", end), ("tz", tz)):
        if value:
            out[name] = value
    return out


def run_saved(
    data_dir: Path, project_tz: str, kind: str, query: dict[str, Any], cohorts: Cohorts | None = None
) -> dict[str, Any]:
    """The answer of a saved insight now: the same JSON as its endpoint's (the metrics API's for a
    funnel or a retention). MetricError (4xx) for a query refused now (a cohort deleted since)."""
    try:
        body = endpoint_body(kind, query)
    except MetricError as exc:
        raise in_query(exc) from None
    if kind == "trend":
        from headwater.insights.trend import run_trend

        return run_trend(data_dir, project_tz, body, cohorts)
    if kind == "paths":
        from headwater.insights.paths import run_paths

        return run_paths(data_dir, project_tz, body, cohorts)
    if kind == "web":
        from headwater.insights.web import run_web

        return run_web(data_dir, project_tz, body, cohorts)
    from headwater.metrics.registry import run_metric

    _check_metric(kind, query, project_tz)
    options = {k: query[k] for k in METRIC_OPTIONS[kind] if query.get(k) is not None}
    return run_metric(
        data_dir, project_tz, kind, query.get("start"), query.get("end"), query.get("tz"), options, cohorts
    )


def parse_dashboard(body: object, current: DashboardSpec | None = None) -> DashboardSpec:
    """A dashboard from a JSON object (``current``: the stored one a PUT changes; the fields the body
    leaves out are kept). Whether each tile's insight exists is the store's to check."""
    obj = _object(body, '{"name", "description", "tiles": [{"insight", "x", "y", "w", "h"}]}')
    _unknown(obj, DASHBOARD_FIELDS, "a dashboard")
    name = _name(obj.get("name")) if "name" in obj or current is None else current.name
    description = (
        _description(obj["description"]) if "description" in obj else (current.description if current else "")
    )
    tiles = parse_tiles(obj.get("tiles")) if "tiles" in obj or current is None else current.tiles
    return DashboardSpec(name, description, tiles)


def parse_tiles(value: object) -> tuple[TileSpec, ...]:
    """Tiles: each a saved insight's id and its place on the grid; a tile without ``x`` and ``y``
    goes right of the tile before it when it fits (else at the left below them all), one without
    ``y`` below the tiles before it, one without ``x`` at the left; ``w`` 6 and ``h`` 4 unless given."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad("tiles", 'must be an array of {"insight", "x", "y", "w", "h"}')
    if len(value) > MAX_TILES:
        raise bad("tiles", f"may hold at most {MAX_TILES} tiles")
    tiles: list[TileSpec] = []
    for i, obj in enumerate(value):
        field = f"tiles[{i}]"
        if not isinstance(obj, Mapping):
            raise bad(field, 'must be an object {"insight", "x", "y", "w", "h"}')
        unknown = sorted(str(k) for k in obj if k not in TILE_FIELDS and k not in TILE_ECHOES)
        if unknown:
            raise bad(f"{field}.{unknown[0]}", f"is not a field of a tile (fields: {', '.join(TILE_FIELDS)})")
        insight = obj.get("insight")
        if insight is None:
            raise bad(f"{field}.insight", "is required: a saved insight's id", "missing_field")
        insight = text_field(insight, f"{field}.insight", MAX_NAME)
        below = max((t.y + t.h for t in tiles), default=0)
        x = _integer(obj.get("x"), f"{field}.x", 0, MAX_POSITION, 0)
        y = _integer(obj.get("y"), f"{field}.y", 0, MAX_POSITION, below)
        w = _integer(obj.get("w"), f"{field}.w", 1, MAX_SIZE, 6)
        h = _integer(obj.get("h"), f"{field}.h", 1, MAX_SIZE, 4)
        if obj.get("x") is None and obj.get("y") is None:
            x, y = _next_place(tiles, w, h)
        tiles.append(TileSpec(insight, x, y, w, h))
    return tuple(tiles)


def _next_place(tiles: list[TileSpec], w: int, h: int) -> tuple[int, int]:
    """Where a tile given no place goes, as the dashboard's "Save…" places one: right of the tile
    before it when it fits in the grid's width and covers no other tile, else at the left below
    them all (so tiles given in a list fill rows of two, not one column)."""
    if tiles:
        last = tiles[-1]
        x, y = last.x + last.w, last.y
        free = all(x + w <= t.x or t.x + t.w <= x or y + h <= t.y or t.y + t.h <= y for t in tiles)
        if x + w <= GRID_COLUMNS and free:
            return x, y
    return 0, max((t.y + t.h for t in tiles), default=0)


def _integer(value: object, field: str, least: int, most: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise bad(field, f"must be an integer from {least} to {most}: {value!r}")
    return value
