"""Audience membership from bounded per-user state: what the live tailer and the nightly batch share.

Every leaf of every rule is an event name plus property filters: a *condition*, identified by a
stable key. For each (user, condition) only the ``keep`` most recent matching event times are
needed to evaluate the rules exactly (at least N times: the N latest; "not in the last D days":
the latest one), so that is what the live store holds. Both the live tailer and the nightly
recomputation evaluate membership here from such stamps, with the same evaluator
(:func:`headwater.targeting.audiences.evaluate`), so they agree whenever their inputs agree.
Times are integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.targeting.audiences import (
    AllOf,
    AnyOf,
    Audience,
    EventCondition,
    EventRecord,
    PropertyFilter,
    Rule,
    evaluate,
    matches,
)


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    event: str
    filters: tuple[PropertyFilter, ...]
    keep: int  # how many of the latest matching stamps decide every rule using it

    def matches(self, properties: Mapping[str, Any]) -> bool:
        return all(matches(f, properties) for f in self.filters)


def condition_key(event: str, filters: Sequence[PropertyFilter]) -> str:
    text = json.dumps([event, [[f.property, f.op, f.value] for f in filters]], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _leaves(rule: Rule) -> Iterable[EventCondition]:
    if isinstance(rule, AllOf | AnyOf):
        for r in rule.rules:
            yield from _leaves(r)
    else:
        yield rule


def _keyed(rule: Rule) -> Rule:
    """The rule with each leaf's event replaced by its condition key and its filters dropped."""
    if isinstance(rule, AllOf):
        return AllOf(tuple(_keyed(r) for r in rule.rules))
    if isinstance(rule, AnyOf):
        return AnyOf(tuple(_keyed(r) for r in rule.rules))
    key = condition_key(rule.event, rule.filters)
    return EventCondition(key, (), rule.min_count, rule.within_days, rule.absent)


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class CompiledAudiences:
    """A set of audiences, ready for the tailer (which conditions does an event feed?) and for
    evaluation (which audiences is a user in, given its stamps?)."""

    def __init__(self, audiences: Iterable[Audience]) -> None:
        self.audiences = tuple(audiences)
        self.by_id = {a.id: a for a in self.audiences}
        self.rules = {a.id: _keyed(a.rule) for a in self.audiences}
        conditions: dict[str, Condition] = {}
        for audience in self.audiences:
            for leaf in _leaves(audience.rule):
                key = condition_key(leaf.event, leaf.filters)
                keep = 1 if leaf.absent else leaf.min_count
                old = conditions.get(key)
                if old is None or old.keep < keep:
                    conditions[key] = Condition(key, leaf.event, leaf.filters, keep)
        self.conditions = conditions
        self.by_event: dict[str, list[Condition]] = {}
        for cond in conditions.values():
            self.by_event.setdefault(cond.event, []).append(cond)

    def matching(self, event: str, properties: Mapping[str, Any]) -> list[Condition]:
        return [c for c in self.by_event.get(event, ()) if c.matches(properties)]

    def members(self, stamps: Mapping[str, Sequence[int]], now: datetime) -> set[str]:
        """Ids of the audiences a user is in, given its latest stamps per condition key: the
        semantics of :func:`evaluate` (tested against it), on integer milliseconds."""
        now_ms = int(now.timestamp() * 1000)
        return {aid for aid, rule in self.rules.items() if _holds(rule, stamps, now_ms)}


_DAY_MS = 86_400_000


def _holds(rule: Rule, stamps: Mapping[str, Sequence[int]], now_ms: int) -> bool:
    if isinstance(rule, AllOf):
        return all(_holds(r, stamps, now_ms) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return any(_holds(r, stamps, now_ms) for r in rule.rules)
    since = None if rule.within_days is None else now_ms - rule.within_days * _DAY_MS
    count = sum(1 for ms in stamps.get(rule.event, ()) if ms <= now_ms and (since is None or ms >= since))
    return count == 0 if rule.absent else count >= rule.min_count


def records_of(stamps: Mapping[str, Sequence[int]]) -> list[EventRecord]:
    """Stamps as the evaluator's records (one per stamp, named by condition key)."""
    return [EventRecord(key, to_datetime(ms)) for key, values in stamps.items() for ms in values]


def members_slow(compiled: CompiledAudiences, stamps: Mapping[str, Sequence[int]], now: datetime) -> set[str]:
    """The same as CompiledAudiences.members, through the shared evaluator (a reference for tests)."""
    records = records_of(stamps)
    return {aid for aid, rule in compiled.rules.items() if evaluate(rule, records, now)}


def latest(stamps: Iterable[int], keep: int) -> list[int]:
    """The ``keep`` latest stamps, newest first."""
    return sorted(stamps, reverse=True)[:keep]


def event_name(type_: str, event: str | None, hw_event_type: str | None) -> str:
    """The name rules match, as the lake's ``event`` column: the track event's name, else the type."""
    if hw_event_type:
        return hw_event_type
    return (event or "") if type_ == "track" else type_
