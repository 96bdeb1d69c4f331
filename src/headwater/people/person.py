"""Who a person is: every id merged with the one asked for (DESIGN section 5).

The ids are completed, until nothing is added, from both identity maps: the realtime store's
``identities`` links (today's identifies, before the lake has them) and the lake's resolved map
(``identity/map.parquet``, read as lake/subject.py ``find_subject`` reads it, in one query: a page
needs no dense ids nor hashes of the lake's other files). An id is taken as a userId and as an
anonymousId alike (the question does not say which); junk ids (``null``, ``0``, ...) are nobody's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from headwater.events.identity import ANON_PREFIX, canonical, is_junk
from headwater.lake.sql import quote
from headwater.people.sources import Reading
from headwater.people.stores import realtime_rows

_MAX_ROUNDS = 4  # a real person is complete after one or two


@dataclass(frozen=True, slots=True)
class Person:
    """``ids``: as events carry them; ``names``: as actors are named (an id, or ``anon:`` + an
    id); ``hashes``: DuckDB's ``hash(name)`` of each name (the lake's session rollup keys people by
    it; empty without a lake); ``links``: the identity links (key -> user) that touch them."""

    asked: str
    ids: frozenset[str]
    names: frozenset[str]
    hashes: frozenset[int]
    links: tuple[tuple[str, str], ...]

    @property
    def user_id(self) -> str | None:
        """The identified user the person resolves to, when a link says so."""
        mapping = dict(self.links)
        for key in (self.asked, ANON_PREFIX + self.asked):
            if key in mapping:
                return canonical(mapping, key)
        targets = {user for _, user in self.links}
        if self.asked in targets:
            return canonical(mapping, self.asked)
        ends = sorted({canonical(mapping, user) for user in targets})
        return ends[0] if ends else None

    def kinds(self) -> dict[str, set[str]]:
        """Each id's kinds as the links show them: ``userId`` and/or ``anonymousId``."""
        out: dict[str, set[str]] = {}
        for key, user in self.links:
            if key.startswith(ANON_PREFIX):
                out.setdefault(key.removeprefix(ANON_PREFIX), set()).add("anonymousId")
            else:
                out.setdefault(key, set()).add("userId")  # an alias's previous id
            out.setdefault(user, set()).add("userId")
        return out


def names_of(ids: Collection[str]) -> frozenset[str]:
    return frozenset(n for i in ids if not is_junk(i) for n in (i, ANON_PREFIX + i))


def resolve_person(reading: Reading, asked: str) -> Person:
    """The person ``asked`` names (see the module doc); no id at all when it is a junk id."""
    if is_junk(asked):
        return Person(asked, frozenset(), frozenset(), frozenset(), ())
    ids = {asked}
    links: dict[str, str] = {}
    lake: dict[str, str] = {}
    asked_lake: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        before = set(ids)
        for row in realtime_rows(reading.db, ids, ("identity",))["identity"]:
            links[str(row["source"])] = str(row["user_id"])
        ids |= _ids_of(links)
        if reading.has_lake and not ids <= asked_lake:
            asked_lake |= ids
            lake.update(_lake_links(reading, names_of(ids)))
            ids |= _ids_of(lake)
        ids = {i for i in ids if not is_junk(i)}
        if ids == before:
            break
    links.update(lake)  # the lake's map wins: resolved over every day loaded
    names = names_of(ids)
    hashes: frozenset[int] = frozenset()
    if reading.has_lake:
        listed = ", ".join(quote(n) for n in sorted(names))
        rows = reading.con.execute(f"SELECT hash(unnest([{listed}]))").fetchall()
        hashes = frozenset(int(r[0]) for r in rows)
    touching = sorted((k, u) for k, u in links.items() if k in names or u in ids)
    return Person(asked, frozenset(ids), names, hashes, tuple(touching))


def _ids_of(links: dict[str, str]) -> set[str]:
    return {i for key, user in links.items() for i in (key.removeprefix(ANON_PREFIX), user)}


def _lake_links(reading: Reading, names: frozenset[str]) -> dict[str, str]:
    """The lake's identity map rows of the person: the map is resolved (each key maps to its final
    user), so one read finds the users the names belong to and every key of those users."""
    from headwater.lake.erase_files import read_sql

    path = reading.lake.identity_map
    if not names or not path.exists():
        return {}
    listed = ", ".join(quote(n) for n in sorted(names))
    rows = reading.con.execute(
        f"""WITH m AS (SELECT key, user_id FROM {read_sql([path])}),
                 p AS (SELECT user_id AS u FROM m WHERE key IN ({listed}) UNION SELECT unnest([{listed}]))
            SELECT key, user_id FROM m WHERE user_id IN (SELECT u FROM p)"""
    ).fetchall()
    return {str(k): str(u) for k, u in rows if k is not None and u is not None}
