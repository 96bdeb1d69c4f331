"""The people and events lines of the route table (http/routes.py): a search, a person's profile
and timeline, and the latest events received (issue 19).

A person's id may hold any character, ``/`` included (sent as ``%2F``): the routes are mounted
with Starlette's ``path`` convertor, the timeline's first (``/events`` ends it).
"""

from __future__ import annotations

from typing import Any

from headwater.http.api import people
from headwater.http.endpoint import Param, Route


def _q(name: str, description: str, **schema: Any) -> Param:
    return Param(name, "query", {"type": "string", **schema}, description)


def _limit(default: int, maximum: int) -> Param:
    return Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": maximum},
        f"how many (default {default}, at most {maximum})",
    )


_ID = Param(
    "id",
    "path",
    {"type": "string", "minLength": 1, "maxLength": people.MAX_ID},
    "any id of the person: a userId or an anonymousId (every id merged with it is shown)",
)
_TEXT = {"minLength": 1, "maxLength": people.MAX_ID}

PEOPLE_ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/people",
        ("GET",),
        people.search,
        params=(
            Param(
                "search",
                "query",
                {"type": "string", **_TEXT},
                "the start of an id; with trait=NAME, the trait's value (equal)",
                required=True,
            ),
            _q("trait", "find people whose latest value of this trait is the search text", **_TEXT),
            _limit(50, 1000),
        ),
        statuses=(400, 500),
    ),
    Route(
        "/api/v1/people/{id}/events",
        ("GET",),
        people.person_events,
        params=(
            _ID,
            _limit(100, 1000),
            _q(
                "before",
                "the 'next' cursor of the previous page: the events strictly older",
                maxLength=people.MAX_CURSOR,
            ),
            _q("event", "only this event (a track's name, or page, identify, ...)", **_TEXT),
        ),
        statuses=(400, 404, 500),
        mount_path="/api/v1/people/{id:path}/events",
    ),
    Route(
        "/api/v1/people/{id}",
        ("GET",),
        people.person,
        params=(_ID,),
        statuses=(400, 404, 500),
        mount_path="/api/v1/people/{id:path}",
    ),
    Route(
        "/api/v1/events/latest",
        ("GET",),
        people.latest_events,
        params=(
            _limit(50, 1000),
            _q("event", "only this event (a track's name, or page, identify, ...)", **_TEXT),
            _q("user", "only this userId or anonymousId", **_TEXT),
            _q("type", "only this type: track, page, screen, identify, group, alias", **_TEXT),
            _q("source", "only the events of this source (a write key's name)", **_TEXT),
        ),
        statuses=(400,),
    ),
)
