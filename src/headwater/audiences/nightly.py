"""The nightly recomputation: exact membership from the whole history, reconciled with the live store.

Reads the lake plus the log not loaded yet (headwater.lake.scope.Scope: deduplicated by
message id) in an in-memory DuckDB. For each condition it takes each user's ``keep`` latest
matching events (in SQL; property filters are applied in Python with the evaluator's own
``matches``), evaluates every user seen with the same code as the live tailer, then, unless
``dry_run``: seeds the live store's stamps and id map (so the live tailer goes on from exact
state), adds the missing members, removes the extra ones, and records the sizes. The drift it
reports is what the live store had wrong before: events it missed (a replay beyond the raw log's
retention), windows that expired since a user's last event, definitions created since.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from headwater.audiences.state import AudienceState
from headwater.audiences.tailer import ID_TRAITS
from headwater.lake.params import Range
from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.stores.live.ports import Stamps
from headwater.stores.sql.audiences import AudienceCatalog
from headwater.targeting.membership import CompiledAudiences, Condition

SAMPLE = 10


@dataclass(slots=True)
class Drift:
    exact: int
    live: int
    missing: list[str]  # members the live store did not have
    extra: list[str]  # live members that are not members

    def as_dict(self) -> dict[str, Any]:
        return {
            "exact": self.exact,
            "live": self.live,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "missing_sample": sorted(self.missing)[:SAMPLE],
            "extra_sample": sorted(self.extra)[:SAMPLE],
        }


@dataclass(slots=True)
class Recompute:
    now: datetime
    users: list[str] = field(default_factory=list)
    members: dict[str, set[str]] = field(default_factory=dict)
    stamps: dict[str, Stamps] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def stamps_of(
    scope: Scope,
    cond: Condition,
    out: dict[str, Stamps],
    table: str = "aud_events",
    who: str = "actor",
    until_ms: int | None = None,
) -> None:
    """Each ``who``'s (actor's, or person's for a cohort) ``keep`` latest events matching ``cond``
    into ``out``, none after ``until_ms``; ``table`` holds (actor, message_id, ms, event) with
    ``who`` as ``actor``."""
    until = "" if until_ms is None else f" AND epoch_ms(ts) <= {int(until_ms)}"
    if not cond.filters:
        latest = "row_number() OVER (PARTITION BY actor ORDER BY ms DESC, message_id DESC)"
        rows = scope.sql(
            f"SELECT actor, message_id, ms FROM {table} WHERE event = {quote(cond.event)}"
            f" AND actor IS NOT NULL{until.replace('epoch_ms(ts)', 'ms')}"
            f" QUALIFY {latest} <= {int(cond.keep)}"
        )
    else:
        candidates = scope.sql(
            f"SELECT {who}, message_id, epoch_ms(ts), CAST(properties AS VARCHAR) FROM ({scope.events()})"
            f" WHERE event = {quote(cond.event)} AND {who} IS NOT NULL{until}"
        )
        kept: dict[str, list[tuple[int, str]]] = {}
        for actor, message_id, ms, props in candidates:
            properties = json.loads(props) if props else {}
            if cond.matches(properties if isinstance(properties, dict) else {}):
                kept.setdefault(actor, []).append((ms, message_id))
        rows = [
            (actor, mid, ms)
            for actor, items in kept.items()
            for ms, mid in sorted(items, reverse=True)[: cond.keep]
        ]
    for actor, message_id, ms in rows:
        out.setdefault(actor, {}).setdefault(cond.key, {})[message_id] = int(ms)


def _ids(scope: Scope, out: dict[str, str]) -> None:
    traits = ", ".join(f"traits->>{quote(t)}" for t in ID_TRAITS if t != "eids")
    rows = scope.sql(
        f"""SELECT actor, context->'device'->>'advertisingId', type, [{traits}],
                   CAST(traits->'eids' AS VARCHAR)
            FROM ({scope.events()}) WHERE actor IS NOT NULL
              AND (context->'device'->>'advertisingId' IS NOT NULL OR type = 'identify')
            ORDER BY ts, message_id"""
    )
    for actor, ad_id, type_, trait_ids, eids in rows:
        values: list[object] = [ad_id]
        if type_ == "identify":
            values.extend(trait_ids)
            parsed = json.loads(eids) if eids else None
            for item in parsed if isinstance(parsed, list) else [parsed]:
                values.append(item.get("id") if isinstance(item, dict) else item)
        for value in values:
            if isinstance(value, str) and value.strip():
                out[value] = actor


def compute(data_dir: Path, compiled: CompiledAudiences, now: datetime | None = None) -> Recompute:
    """Exact membership of every audience at ``now`` (read only)."""
    result = Recompute(now or datetime.now(UTC))
    started = time.monotonic()
    with Scope(data_dir, Range(date.today(), date.today(), "UTC")) as scope:
        scope.sql(
            f"CREATE TEMP TABLE aud_events AS SELECT actor, message_id, epoch_ms(ts) AS ms, event"
            f" FROM ({scope.events()}) WHERE actor IS NOT NULL"
        )
        users = result.users = [r[0] for r in scope.sql("SELECT DISTINCT actor FROM aud_events")]
        result.seconds["read"] = time.monotonic() - started
        for cond in compiled.conditions.values():
            stamps_of(scope, cond, result.stamps)
        _ids(scope, result.ids)
        result.seconds["query"] = time.monotonic() - started - result.seconds["read"]
    mark = time.monotonic()
    result.members = {a.id: set() for a in compiled.audiences}
    nobody = compiled.members({}, result.now)  # users with no matching event all share this
    for user in users:
        held = result.stamps.get(user)
        found = nobody if held is None else compiled.members(as_lists(held), result.now)
        for aid in found:
            result.members[aid].add(user)
    result.seconds["evaluate"] = time.monotonic() - mark
    return result


def as_lists(stamps: Stamps) -> dict[str, list[int]]:
    return {cond: list(values.values()) for cond, values in stamps.items()}


def reconcile(
    state: AudienceState,
    compiled: CompiledAudiences,
    result: Recompute,
    catalog: AudienceCatalog | None = None,
    dry_run: bool = False,
    every_host: bool = False,
) -> dict[str, Drift]:
    """Compare with the live membership; unless ``dry_run`` make the live store exact.
    ``every_host`` (a cluster): see :func:`with_live_stamps`."""
    mark = time.monotonic()
    if not dry_run:
        state.ids.map_ids({**{u: u for u in result.users}, **result.ids})
        state.membership.add_stamps(result.stamps, {c.key: c.keep for c in compiled.conditions.values()})
    lives = {aid: state.membership.audience_members(aid) for aid in result.members}
    if every_host:
        with_live_stamps(state, compiled, result, lives, dry_run)
    drift: dict[str, Drift] = {}
    for aid, exact in result.members.items():
        live = lives[aid]
        missing, extra = exact - live, live - exact
        drift[aid] = Drift(len(exact), len(live), list(missing), list(extra))
        if not dry_run:
            state.membership.add_members(aid, missing)
            state.membership.remove_members(aid, extra)
    if catalog is not None and not dry_run:
        catalog.record_sizes({aid: len(m) for aid, m in result.members.items()}, "nightly")
    result.seconds["reconcile"] = time.monotonic() - mark
    return drift


def with_live_stamps(
    state: AudienceState,
    compiled: CompiledAudiences,
    result: Recompute,
    lives: dict[str, set[str]],
    dry_run: bool,
) -> None:
    """In a cluster, the lake lacks what the other hosts received since their last hourly part
    (docs/scale-out.md); their audiences tailers put it in the shared live store as stamps. Every
    user the lake or the live store counts in an audience is evaluated again over both: the lake's
    stamps added to the store's (by message id, reconcile did it; for a dry run, merged here), so a
    member whose qualifying events reached another host in the last hour stays, and one whose
    window expired goes."""
    conditions = [c.key for c in compiled.conditions.values()]
    users = sorted(set().union(*lives.values(), *result.members.values()))
    stored = state.membership.stamps_of(users, conditions) if users else {}
    for user in users:
        merged = {cond: list(values) for cond, values in stored.get(user, {}).items()}
        if dry_run:  # the lake's stamps are not in the store: merged by time
            for cond, values in as_lists(result.stamps.get(user, {})).items():
                merged[cond] = sorted(set(merged.get(cond, [])) | set(values))
        found = compiled.members(merged, result.now)
        for aid, members in result.members.items():
            if aid in found:
                members.add(user)
            else:
                members.discard(user)


def report(result: Recompute, drift: dict[str, Drift], dry_run: bool) -> dict[str, Any]:
    return {
        "at": result.now.isoformat(),
        "users": len(result.users),
        "dry_run": dry_run,
        "audiences": {aid: d.as_dict() for aid, d in sorted(drift.items())},
        "drift": sum(len(d.missing) + len(d.extra) for d in drift.values()),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }
