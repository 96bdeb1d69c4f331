"""Identity resolution (DESIGN section 5): which identified user each id belongs to.

Pure rules, no I/O. The batch layer extracts *links* from events and feeds them here; the
result is a map ``key -> userId`` where a key is ``anon:<anonymousId>`` or a user id that was
aliased to another one. A user is the identified ``userId``; ids that never get identified
stay their own actor (``anon:<anonymousId>``).

Rules:
- junk ids (null, undefined, anonymous, 0, empty, ... case and blanks ignored) are treated as
  absent: they never merge two people together;
- the first link of an anonymous id wins (identify, or the first event carrying both ids): a
  shared device later used by someone else does not move the earlier history;
- ``alias(previousId, userId)`` maps the previous id (as an anonymous id and as a user id) to
  the new user, so both the anonymous history and the old user's history follow;
- chains are followed to the end (a -> u1 -> u2 gives a -> u2); a link that would close a cycle
  is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ANON_PREFIX = "anon:"

#: Compared after ``strip().lower()``. The all-zero UUID is the "limit ad tracking" device id.
JUNK_IDS: frozenset[str] = frozenset(
    {"", "null", "undefined", "anonymous", "0", "none", "nil", "nan", "00000000-0000-0000-0000-000000000000"}
)


def is_junk(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return True
    return str(value).strip().lower() in JUNK_IDS


def clean_id(value: object) -> str | None:
    """The id as a string, or None when it is missing or junk."""
    if is_junk(value):
        return None
    return str(value)


def actor_key(user_id: object, anonymous_id: object) -> str | None:
    """The pre-resolution key of an event: its userId, else ``anon:<anonymousId>``, else None."""
    user = clean_id(user_id)
    if user is not None:
        return user
    anon = clean_id(anonymous_id)
    return None if anon is None else ANON_PREFIX + anon


@dataclass(frozen=True, slots=True, order=True)
class Link:
    """``source`` (a key: ``anon:<id>`` or a user id) belongs to ``user`` from time ``ts`` on.

    ``ts`` is an ISO 8601 UTC text or anything that sorts in time order.
    """

    ts: str
    source: str
    user: str


def links_from_event(
    ts: str, etype: str, user_id: object, anonymous_id: object, previous_id: object
) -> list[Link]:
    """The links one event carries (used by tests and small inputs; the ETL does it in SQL)."""
    user = clean_id(user_id)
    if user is None:
        return []
    out: list[Link] = []
    anon = clean_id(anonymous_id)
    if anon is not None:
        out.append(Link(ts, ANON_PREFIX + anon, user))
    if etype == "alias":
        prev = clean_id(previous_id)
        if prev is not None and prev != user:
            out.append(Link(ts, ANON_PREFIX + prev, user))
            out.append(Link(ts, prev, user))
    return out


def canonical(mapping: Mapping[str, str], key: str) -> str:
    """Follow the chain of a key to its final user (stops on a cycle)."""
    seen = {key}
    current = key
    while current in mapping:
        nxt = mapping[current]
        if nxt in seen:
            break
        seen.add(nxt)
        current = nxt
    return current


def resolve(links: Iterable[Link], existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """Apply links in time order on top of an existing map; return the flattened map.

    Every key of the result maps straight to its final user id (no chains left).
    """
    direct: dict[str, str] = dict(existing or {})
    for link in sorted(links, key=lambda x: (x.ts, x.source, x.user)):
        if link.source == link.user or link.source in direct:
            continue  # first link wins
        if canonical(direct, link.user) == link.source:
            continue  # would close a cycle
        direct[link.source] = link.user
    return {key: canonical(direct, key) for key in direct}


def person_ids(ids: Iterable[str]) -> set[str]:
    """A person's ids as plain values: an actor key ``anon:<id>`` read as ``<id>``; junk ids
    (``null``, ``0``, ...) left out, being nobody's (every forget of a deletion, docs/privacy.md)."""
    out: set[str] = set()
    for value in ids:
        plain = value[len(ANON_PREFIX) :] if value.startswith(ANON_PREFIX) else value
        if not is_junk(plain):
            out.add(plain)
    return out
