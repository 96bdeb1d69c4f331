"""A paths query, checked: the model paths.py reads, made from the JSON of
``POST /api/v1/insights/paths`` (or the CLI's options turned into the same JSON). Every refusal is a
MetricError (400) whose message names the field (``steps``, ``filters[1].op``, ``exclude[0]``).

``PathsQuery`` is the same body as msgspec types, for /openapi.json; the meaning (names, values,
ranges) is checked here, for the API and the CLI alike. Filters are the trend's (request.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from headwater.insights.request import MATCHES, Filter, bad, choice, parse_filters
from headwater.insights.request import text_field as text
from headwater.insights.schema import TrendFilter
from headwater.lake.params import MetricError, Range, make_range

KINDS = ("events", "pages")
DIRECTIONS = ("next", "previous")
MAX_STEPS = 5
DEFAULT_STEPS = 3
DEFAULT_LIMIT = 5
MAX_LIMIT = 20
MAX_EXCLUDE = 100
#: a step's name when the event has none (a page event without a path)
NONE = "$none"
FIELDS = (
    "start",
    "end",
    "tz",
    "event",
    "direction",
    "steps",
    "filters",
    "filter_match",
    "limit",
    "session_scoped",
    "kind",
    "exclude",
)

_DAY = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"}, description="YYYY-MM-DD")]
_NAME = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class PathsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Paths: the most common steps after (or before) each person's first ``event`` in the range."""

    start: _DAY
    end: _DAY
    tz: str | None = None
    event: Annotated[_NAME, msgspec.Meta(description="the anchor: an event name, or a page path (pages)")]
    direction: Literal["next", "previous"] = "next"
    steps: Annotated[int, msgspec.Meta(ge=1, le=MAX_STEPS)] = DEFAULT_STEPS
    filters: list[TrendFilter] = []
    filter_match: Literal["all", "any"] = "all"
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description="nodes kept per step")] = DEFAULT_LIMIT
    session_scoped: Annotated[bool, msgspec.Meta(description="steps within the anchor's session")] = False
    kind: Literal["events", "pages"] = "events"
    exclude: Annotated[list[_NAME], msgspec.Meta(max_length=MAX_EXCLUDE)] = []


@dataclass(frozen=True, slots=True)
class PathsRequest:
    rng: Range
    event: str  # the anchor: an event name (kind events) or a page path (kind pages)
    direction: str = "next"
    steps: int = DEFAULT_STEPS
    filters: tuple[Filter, ...] = ()
    filter_match: str = "all"
    limit: int = DEFAULT_LIMIT
    session_scoped: bool = False
    kind: str = "events"
    exclude: tuple[str, ...] = ()  # names (or paths) that are never a step


def parse_paths(body: object, project_tz: str) -> PathsRequest:
    """The checked paths query of a JSON object (see docs/insights.md, "Paths"), or a MetricError."""
    if not isinstance(body, Mapping):
        raise MetricError("bad_body", "the body must be a JSON object (see docs/insights.md)")
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:
        raise bad(unknown[0], f"is not a field of a paths query (fields: {', '.join(sorted(FIELDS))})")
    for name in ("start", "end", "tz"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            raise bad(name, "must be a string")
    rng = make_range(body.get("start"), body.get("end"), body.get("tz"), project_tz)
    if body.get("event") is None:
        raise bad(
            "event",
            "is required: the event (or, with kind pages, the page path) paths start from",
            "missing_field",
        )
    event = text(body["event"], "event")
    kind = choice(body, "kind", KINDS, "events")
    direction = choice(body, "direction", DIRECTIONS, "next")
    steps = _integer(body, "steps", DEFAULT_STEPS, MAX_STEPS)
    limit = _integer(body, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    filters = parse_filters(body.get("filters"), "filters")
    filter_match = choice(body, "filter_match", MATCHES, "all")
    session = body.get("session_scoped", False)
    if session is None:
        session = False
    if not isinstance(session, bool):
        raise bad("session_scoped", f"must be true or false: {session!r}")
    exclude = _exclude(body.get("exclude"), event)
    return PathsRequest(rng, event, direction, steps, filters, filter_match, limit, session, kind, exclude)


def _integer(body: Mapping[str, Any], name: str, default: int, most: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise bad(name, f"must be an integer from 1 to {most}: {value!r}")
    return value


def _exclude(value: object, anchor: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad("exclude", "must be an array of event names (or page paths)")
    if len(value) > MAX_EXCLUDE:
        raise bad("exclude", f"may hold at most {MAX_EXCLUDE} names")
    names = tuple(text(v, f"exclude[{i}]") for i, v in enumerate(value))
    if anchor in names:
        raise bad(f"exclude[{names.index(anchor)}]", f"is the anchor {anchor!r}: a path cannot skip it")
    return tuple(sorted(set(names)))
