"""Audience definitions from JSON (admin API, CLI, a file), refused with the path of the bad field.

{"id": "big-spenders", "name": "Big spenders", "sendable_to_buyers": true, "taxonomy_id": "782",
 "rule": {"all": [
    {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 100}],
     "min_count": 2, "within_days": 30},
    {"event": "Refund Requested", "not_within_days": 90}]}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from headwater.targeting.audiences import (
    OPS,
    AllOf,
    AnyOf,
    Audience,
    AudienceError,
    EventCondition,
    Op,
    PropertyFilter,
    Rule,
)

MAX_DEPTH = 8
#: An audience's id: a path segment of the API (/api/v1/audiences/{id}) and the segment sent to buyers.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RULE_KEYS = {"event", "where", "min_count", "within_days", "not_within_days"}


def _text(obj: Mapping[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AudienceError(f"{path}{key}", "must be a non-empty string")
    return value


def _positive(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise AudienceError(f"{path}{key}", "must be a positive integer")
    return value


def _filter(obj: object, path: str) -> PropertyFilter:
    if not isinstance(obj, Mapping):
        raise AudienceError(path, "must be an object")
    prop = cast(str, _text(obj, "property", f"{path}."))
    op = obj.get("op")
    if op not in OPS:
        raise AudienceError(f"{path}.op", f"must be one of {', '.join(OPS)}")
    value = obj.get("value")
    if op == "in" and not isinstance(value, list):
        raise AudienceError(f"{path}.value", "must be an array for op 'in'")
    if op in ("gt", "lt") and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise AudienceError(f"{path}.value", f"must be a number for op '{op}'")
    if op == "exists" and value is not None and not isinstance(value, bool):
        raise AudienceError(f"{path}.value", "must be true, false or absent for op 'exists'")
    if op not in ("exists",) and "value" not in obj:
        raise AudienceError(f"{path}.value", f"is required for op '{op}'")
    return PropertyFilter(prop, cast(Op, op), value)


def parse_rule(obj: object, path: str = "rule", depth: int = 0) -> Rule:
    if depth > MAX_DEPTH:
        raise AudienceError(path, f"nests deeper than {MAX_DEPTH} levels")
    if not isinstance(obj, Mapping):
        raise AudienceError(path, "must be an object")
    for combinator, kind in (("all", AllOf), ("any", AnyOf)):
        if combinator in obj:
            if len(obj) != 1:
                raise AudienceError(path, f"'{combinator}' must be the only key of its object")
            rules = obj[combinator]
            if not isinstance(rules, list) or not rules:
                raise AudienceError(f"{path}.{combinator}", "must be a non-empty array of rules")
            parsed = tuple(parse_rule(r, f"{path}.{combinator}[{i}]", depth + 1) for i, r in enumerate(rules))
            return kind(parsed)
    unknown = sorted(set(obj) - _RULE_KEYS)
    if unknown:
        raise AudienceError(f"{path}.{unknown[0]}", "is not a rule field")
    event = cast(str, _text(obj, "event", f"{path}."))
    where = obj.get("where", [])
    if not isinstance(where, list):
        raise AudienceError(f"{path}.where", "must be an array of filters")
    filters = tuple(_filter(f, f"{path}.where[{i}]") for i, f in enumerate(where))
    min_count = _positive(obj, "min_count", f"{path}.")
    within = _positive(obj, "within_days", f"{path}.")
    not_within = _positive(obj, "not_within_days", f"{path}.")
    if not_within is not None and (within is not None or min_count is not None):
        raise AudienceError(f"{path}.not_within_days", "cannot be combined with within_days or min_count")
    if not_within is not None:
        return EventCondition(event, filters, within_days=not_within, absent=True)
    return EventCondition(event, filters, min_count or 1, within)


def parse_audience(obj: object, check_id: bool = True) -> Audience:
    """The audience a definition describes; ``check_id=False`` for one stored before ids were
    checked (it stays served, and reachable in the API if its id allows)."""
    if not isinstance(obj, Mapping):
        raise AudienceError("audience", "must be an object")
    audience_id = cast(str, _text(obj, "id", ""))
    if check_id and not ID_PATTERN.fullmatch(audience_id):
        allowed = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        raise AudienceError("id", f"must be {allowed}: {audience_id!r}")
    name = cast(str, _text(obj, "name", ""))
    taxonomy_id = obj.get("taxonomy_id")
    if isinstance(taxonomy_id, int) and not isinstance(taxonomy_id, bool) and taxonomy_id > 0:
        taxonomy_id = str(taxonomy_id)
    if taxonomy_id is not None and (not isinstance(taxonomy_id, str) or not taxonomy_id.isdigit()):
        raise AudienceError("taxonomy_id", "must be an IAB Audience Taxonomy 1.1 id (digits)")
    proprietary_id = _text(obj, "proprietary_id", "", required=False)
    if taxonomy_id is not None and proprietary_id is not None:
        raise AudienceError("proprietary_id", "cannot be set together with taxonomy_id")
    sendable = obj.get("sendable_to_buyers", False)
    if not isinstance(sendable, bool):
        raise AudienceError("sendable_to_buyers", "must be true or false")
    if "rule" not in obj:
        raise AudienceError("rule", "is required")
    return Audience(audience_id, name, parse_rule(obj["rule"]), taxonomy_id, proprietary_id, sendable)
