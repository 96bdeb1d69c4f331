"""Audience definitions and their pure evaluation over a user's events.

A rule is a condition on one event name (property filters, at least N times, within the last D
days, or "not in the last D days"), or an `all` / `any` combination of rules. The evaluator reads
`EventRecord`s: single events (count 1) or daily rollups (count N), so the live tailer and the
nightly batch share it. Definitions come from JSON (admin API, CLI, a file) through `parse_audience`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from headwater.targeting.enrich import IAB_AUDIENCE_1_1, Segment

Op = Literal["eq", "neq", "in", "gt", "lt", "contains", "exists"]
OPS: tuple[str, ...] = ("eq", "neq", "in", "gt", "lt", "contains", "exists")


class AudienceError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class EventRecord:
    name: str
    at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    count: int = 1


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    property: str  # dotted path into the event's properties
    op: Op
    value: Any = None


@dataclass(frozen=True, slots=True)
class EventCondition:
    event: str
    filters: tuple[PropertyFilter, ...] = ()
    min_count: int = 1
    within_days: int | None = None  # None: over the whole history
    absent: bool = False  # "not in the last D days": no matching event in the window


@dataclass(frozen=True, slots=True)
class AllOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    rules: tuple[Rule, ...]


Rule: TypeAlias = EventCondition | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class Audience:
    id: str
    name: str
    rule: Rule
    taxonomy_id: str | None = None  # IAB Audience Taxonomy 1.1 id, sent with segtax 4
    proprietary_id: str | None = None
    sendable_to_buyers: bool = False

    def segment(self) -> Segment:
        if self.taxonomy_id is not None:
            return Segment(self.taxonomy_id, IAB_AUDIENCE_1_1)
        return Segment(self.proprietary_id or self.id)


_MISSING = object()


def _lookup(properties: Mapping[str, Any], path: str) -> Any:
    value: Any = properties
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def matches(flt: PropertyFilter, properties: Mapping[str, Any]) -> bool:
    value = _lookup(properties, flt.property)
    if flt.op == "exists":
        return (value is not _MISSING and value is not None) == (flt.value is not False)
    if value is _MISSING:
        return flt.op == "neq"
    if flt.op == "eq":
        return bool(value == flt.value)
    if flt.op == "neq":
        return bool(value != flt.value)
    if flt.op == "in":
        return value in flt.value
    if flt.op in ("gt", "lt"):
        if not (_number(value) and _number(flt.value)):
            return False
        return bool(value > flt.value) if flt.op == "gt" else bool(value < flt.value)
    if isinstance(value, str):  # contains
        return isinstance(flt.value, str) and flt.value in value
    return isinstance(value, list | tuple) and flt.value in value


def _count(cond: EventCondition, events: Iterable[EventRecord], now: datetime) -> int:
    since = None if cond.within_days is None else now - timedelta(days=cond.within_days)
    total = 0
    for event in events:
        if event.name != cond.event or event.at > now or (since is not None and event.at < since):
            continue
        if all(matches(f, event.properties) for f in cond.filters):
            total += event.count
    return total


def evaluate(rule: Rule, events: Sequence[EventRecord], now: datetime) -> bool:
    """Is a user with these events in the audience at `now`? Events after `now` are ignored."""
    if isinstance(rule, AllOf):
        return all(evaluate(r, events, now) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return any(evaluate(r, events, now) for r in rule.rules)
    count = _count(rule, events, now)
    return count == 0 if rule.absent else count >= rule.min_count


def member_segments(audiences: Iterable[Audience], member_ids: Iterable[str]) -> list[Segment]:
    """The segments to send for a user in these audiences: only those sendable to buyers."""
    members = set(member_ids)
    return [a.segment() for a in audiences if a.id in members and a.sendable_to_buyers]
