"""Cohort members: computed from the lake and today's log, kept as one Parquet file per cohort
(``data/cohorts/<id>.parquet``, the people's resolved names, with the definition's digest and the
time of the computation in the file's metadata), read by every insight that filters or breaks down
by the cohort (insights/columns.py).

A rule cohort is evaluated per person (every id the identity graph merged, as the insights count
people) at the time of the computation, with the audience engine (targeting/membership.py): a rule
"within the last 30 days" means the 30 days before the cohort was computed. Members are computed
when an insight first needs them, again every night after the daily ETL (:func:`refresh_used`, for
the cohorts whose members exist: the ones in use), when the definition changed, on demand
(``POST /api/v1/cohorts/{id}/compute``, ``headwater cohorts compute``), and by an insight that finds
them older than ``max_age`` (26 hours: a night missed). A static cohort's ids (each read as a userId and as an
anonymousId) are resolved to the people seen.
A deletion (docs/privacy.md) removes every members file: they are recomputed without the person.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from headwater.audiences.nightly import as_lists, stamps_of
from headwater.events.identity import ANON_PREFIX
from headwater.insights.cohort_spec import Cohort, CohortError, parse_cohort
from headwater.lake.params import MetricError, Range
from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.lake.swapped import read_again
from headwater.stores.live.ports import Stamps
from headwater.stores.sql.cohorts import CohortCatalog
from headwater.targeting.audiences import Audience
from headwater.targeting.membership import CompiledAudiences

MAX_AGE_SECONDS = 26 * 3600.0
_META = b"headwater.cohort"


@dataclass(frozen=True, slots=True)
class Members:
    """A cohort's computed members: the file the insights join, and what it holds."""

    id: str
    path: Path
    digest: str
    computed_at: str
    count: int
    seconds: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"computed_at": self.computed_at, "members": self.count}


def cohorts_dir(data_dir: Path) -> Path:
    return data_dir / "cohorts"


def _person_names(scope: Scope, cohort: Cohort, now: datetime) -> list[str]:
    if cohort.rule is None:  # each id as a userId and as an anonymousId; the people seen so named
        import pyarrow as pa

        scope.con.register("cohort_ids", pa.table({"id": list(cohort.members)}))
        keys = f"SELECT id AS key FROM cohort_ids UNION ALL SELECT {quote(ANON_PREFIX)} || id FROM cohort_ids"
        rows = scope.sql(
            f"""SELECT DISTINCT coalesce(m.user_id, i.key) AS person FROM ({keys}) i
                LEFT JOIN idmap m ON m.key = i.key
                WHERE coalesce(m.user_id, i.key) IN (SELECT person FROM ({scope.user_days()}))"""
        )
        return sorted(r[0] for r in rows)
    compiled = CompiledAudiences([Audience(cohort.id, cohort.name, cohort.rule)])
    names = sorted({c.event for c in compiled.conditions.values()})
    listed = ", ".join(quote(n) for n in names)
    scope.sql(
        f"CREATE OR REPLACE TEMP TABLE cohort_events AS SELECT person AS actor, message_id,"
        f" epoch_ms(ts) AS ms, event FROM ({scope.events()}) WHERE person IS NOT NULL AND event IN ({listed})"
    )
    stamps: dict[str, Stamps] = {}
    for cond in compiled.conditions.values():
        stamps_of(scope, cond, stamps, "cohort_events", "person", int(now.timestamp() * 1000))
    nobody = cohort.id in compiled.members({}, now)  # a rule people with no matching event meet
    people = set(stamps)
    if nobody:  # everyone seen is a candidate ("not within the last 30 days")
        people |= {r[0] for r in scope.sql(f"SELECT DISTINCT person FROM ({scope.user_days()})")}
    return sorted(
        p
        for p in people
        if (nobody if p not in stamps else cohort.id in compiled.members(as_lists(stamps[p]), now))
    )


def compute_members(data_dir: Path, cohort: Cohort, now: datetime | None = None) -> Members:
    """Compute the members now and keep them (the file is replaced atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    moment = now or datetime.now(UTC)
    started = time.monotonic()

    def names() -> list[str]:
        with Scope(data_dir, Range(date.today(), date.today(), "UTC")) as scope:
            return _person_names(scope, cohort, moment)

    people = read_again(names)
    folder = cohorts_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cohort.id}.parquet"
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = json.dumps({"digest": cohort.digest, "computed_at": stamp, "count": len(people)})
    table = pa.table({"person": pa.array(people, pa.string())}).replace_schema_metadata({_META: meta})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return Members(cohort.id, path, cohort.digest, stamp, len(people), time.monotonic() - started)


def stored_members(data_dir: Path, cohort_id: str) -> Members | None:
    """The members kept for a cohort, or None (never computed, or unreadable)."""
    import pyarrow.parquet as pq

    path = cohorts_dir(data_dir) / f"{cohort_id}.parquet"
    try:
        meta = pq.read_schema(path).metadata or {}
        info = json.loads(meta[_META])
    except (OSError, KeyError, ValueError):
        return None
    return Members(cohort_id, path, str(info["digest"]), str(info["computed_at"]), int(info["count"]))


def forget_members(data_dir: Path) -> int:
    """Remove every cohort's computed members (a deletion: they are recomputed without the person)."""
    removed = 0
    folder = cohorts_dir(data_dir)
    for path in folder.glob("*.parquet") if folder.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def fresh_members(
    data_dir: Path, cohort: Cohort, max_age: float = MAX_AGE_SECONDS, now: datetime | None = None
) -> Members:
    """The kept members when they are of this definition and younger than ``max_age``, else new ones."""
    kept = stored_members(data_dir, cohort.id)
    if kept is not None and kept.digest == cohort.digest:
        age = time.time() - kept.path.stat().st_mtime
        if age <= max_age:
            return kept
    return compute_members(data_dir, cohort, now)


class Cohorts:
    """The cohorts an insight names, resolved from the catalog to their members' files."""

    def __init__(self, data_dir: Path, database_url: str, max_age: float = MAX_AGE_SECONDS) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.max_age = max_age

    def definition(self, catalog: CohortCatalog, cohort_id: str, field: str) -> Cohort:
        """The cohort ``field`` names: a request's field (``filters[0].name``), or what names it in
        words (``parameter 'in_cohort'``, ``argument COHORT``)."""
        stored = catalog.get(cohort_id)
        if stored is None:
            named = field if " " in field else f"field {field!r}"
            raise MetricError(
                "unknown_cohort",
                f"{named} names no cohort: {cohort_id!r} (create it with POST /api/v1/cohorts"
                " or `headwater cohorts create`; list them with `headwater cohorts list`)",
            )
        try:
            return parse_cohort(stored.definition)
        except CohortError as exc:  # stored by an older version with other rules
            raise MetricError("bad_cohort", f"cohort {cohort_id!r} cannot be evaluated: {exc}") from None

    def resolve(self, refs: Mapping[str, str]) -> dict[str, Members]:
        """Members of each cohort in ``refs`` (cohort id -> the field naming it, for the 400)."""
        if not refs:
            return {}
        with CohortCatalog(self.database_url) as catalog:
            cohorts = [self.definition(catalog, cid, field) for cid, field in refs.items()]
        return {c.id: fresh_members(self.data_dir, c, self.max_age) for c in cohorts}


def resolve_cohorts(cohorts: Cohorts | None, refs: Mapping[str, str]) -> dict[str, Members]:
    """The members of the cohorts a query names (before its scope opens: a computation opens its own)."""
    if not refs:
        return {}
    if cohorts is None:
        field = next(iter(refs.values()))
        raise MetricError(
            "not_available", f"field {field!r} names a cohort, and cohorts are not available here"
        )
    return cohorts.resolve(refs)


def attach(scope: Scope, members: Mapping[str, Members]) -> None:
    scope.cohort_files.update({cid: str(m.path) for cid, m in members.items()})


def describe_cohorts(members: Mapping[str, Members]) -> dict[str, Any]:
    """The answer's ``cohorts``: when each cohort's members were computed, and how many."""
    return {cid: m.describe() for cid, m in sorted(members.items())}


def refresh_used(data_dir: Path, database_url: str) -> dict[str, Members]:
    """Compute again the members of every cohort that has them (the nightly run, after the ETL):
    insights then read members of last night's lake instead of computing them in a request."""
    if not cohorts_dir(data_dir).is_dir():
        return {}  # no cohort ever used (nor the catalog opened for it)
    with CohortCatalog(database_url) as catalog:
        stored = catalog.list()
    done: dict[str, Members] = {}
    for item in stored:
        if stored_members(data_dir, item.id) is None:
            continue  # never used: computed when an insight first needs it
        try:
            cohort = parse_cohort(item.definition)
        except CohortError:
            continue  # stored by an older version with other rules: answered as a 400 when used
        done[item.id] = compute_members(data_dir, cohort)
    return done
