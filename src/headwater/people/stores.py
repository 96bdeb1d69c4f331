"""What the realtime and live stores hold of one person: read here once, for the people API
(people/profile.py) and for an access request's export (privacy/access.py).

- :func:`realtime_rows`: ``identity`` links from or to the person's keys, ``session`` rows and
  ``active_day`` rows of the realtime store;
- :func:`sticky_documents`: their experiment assignments (GrowthBook sticky documents, one per
  hash attribute and value);
- :func:`audience_memberships`: the audiences each of their keys is a member of (an identified
  user's and, under ``anon:<id>``, their anonymous ids' own).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from headwater.events.identity import ANON_PREFIX
from headwater.stores.live.ports import StoreOptions, person_keys
from headwater.stores.sql.database import SqlDatabase

#: the GrowthBook hash attributes a sticky document of a person can be under
STICKY_ATTRIBUTES = ("id", "userId", "user_id", "anonymousId", "anonymous_id", "deviceId", "device_id")
#: an answer to a person's page waits a few seconds at most for the live store
API_OPTIONS = StoreOptions(connect_timeout=2.0, socket_timeout=5.0)

_QUERIES = (
    ("identity", "SELECT source, user_id FROM identities WHERE source IN ({m}) OR user_id IN ({m})"),
    (
        "session",
        "SELECT session_id, user_id, start_time, last_activity, events_count FROM user_sessions"
        " WHERE user_id IN ({m}) ORDER BY start_time",
    ),
    ("active_day", "SELECT date, user_id FROM daily_users WHERE user_id IN ({m}) ORDER BY date"),
)


def actor_keys(ids: Collection[str]) -> list[str]:
    """The keys the realtime store may name the person by: each id, and ``anon:`` + each id."""
    plain = sorted(set(ids))
    return plain + [ANON_PREFIX + i for i in plain]


def realtime_rows(
    db: SqlDatabase, ids: Collection[str], kinds: Collection[str] = ("identity", "session", "active_day")
) -> dict[str, list[dict[str, Any]]]:
    """The realtime store's rows of the person, by kind (see the module doc), in one read
    transaction."""
    actors = actor_keys(ids)
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _ in _QUERIES if kind in kinds}
    if not actors:
        return out
    marks = ",".join("{p}" for _ in actors)
    with db.tx(write=False) as cur:
        for kind, template in _QUERIES:
            if kind not in kinds:
                continue
            sql = template.replace("{m}", marks)
            cur.execute(db.q(sql), tuple(actors) * sql.count("IN ("))
            names = [d[0] for d in cur.description]
            out[kind] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return out


def sticky_documents(
    backend: Any, ids: Collection[str], options: StoreOptions = API_OPTIONS
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(hash attribute, value, document) of every sticky document stored for one of the ids."""
    sticky = backend.sticky_buckets(options)
    try:
        for attribute in STICKY_ATTRIBUTES:
            for value in sorted(set(ids)):
                doc = sticky.get(f"{attribute}||{value}")
                if doc:
                    yield attribute, value, dict(doc)
    finally:
        sticky.close()


def audience_memberships(
    backend: Any, ids: Collection[str], options: StoreOptions = API_OPTIONS
) -> dict[str, set[str]]:
    """Each of the person's keys (ids, and ``anon:<id>``) that is in an audience: its audiences."""
    membership = backend.membership(options)
    try:
        found = membership.memberships(sorted(person_keys(ids)))
    finally:
        membership.close()
    return {user: set(audiences) for user, audiences in found.items() if audiences}
