"""Targeting by user attributes: GrowthBook's condition language (a MongoDB-like query on attributes).

`{"country": {"$in": ["US", "CA"]}, "plan": "pro", "$or": [...]}` and the operators $eq $ne $lt $lte
$gt $gte $in $nin $all $elemMatch $size $exists $type $not $regex $inGroup $notInGroup (and
case-insensitive $ini $nini $alli $regexi) and the version
comparisons $veq $vne $vgt $vgte $vlt $vlte. Loose comparisons follow JavaScript, as the reference SDK.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

Condition = Mapping[str, Any]


def eval_condition(attrs: Any, condition: Condition, groups: Mapping[str, Any] | None = None) -> bool:
    groups = groups or {}
    for k, v in condition.items():
        if k == "$or":
            if not _eval_or(attrs, v, groups):
                return False
        elif k == "$nor":
            if _eval_or(attrs, v, groups):
                return False
        elif k == "$and":
            if not all(eval_condition(attrs, c, groups) for c in v):
                return False
        elif k == "$not":
            if eval_condition(attrs, v, groups):
                return False
        elif not _eval_value(v, _get_path(attrs, k), groups):
            return False
    return True


def _eval_or(attrs: Any, conditions: list[Condition], groups: Mapping[str, Any]) -> bool:
    return not conditions or any(eval_condition(attrs, c, groups) for c in conditions)


def _get_path(obj: Any, path: str) -> Any:
    current = obj
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return None
    return current


def _is_operator_object(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(str(k).startswith("$") for k in obj)


def _js_number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(s)
        except ValueError:
            return math.nan
    if isinstance(v, list) and len(v) <= 1:
        return _js_number(v[0]) if v else 0.0
    return math.nan


def _js_str(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return ",".join("" if x is None else _js_str(x) for x in v)
    if isinstance(v, Mapping):
        return "[object Object]"
    return str(v)


def _truthy(v: Any) -> bool:
    if isinstance(v, list | Mapping):
        return True
    if isinstance(v, float) and math.isnan(v):
        return False
    return bool(v)


def _strict_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | Mapping) or isinstance(b, list | Mapping):
        return a is b
    return type(a) is type(b) and a == b


def _compare(a: Any, b: Any, op: Callable[[Any, Any], bool]) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return op(a, b)
    x, y = _js_number(a), _js_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return op(x, y)


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _eval_value(condition: Any, value: Any, groups: Mapping[str, Any], insensitive: bool = False) -> bool:
    if isinstance(condition, str):
        if insensitive:
            return _js_str(value).lower() == condition.lower()
        return _js_str(value) == condition
    if isinstance(condition, bool):
        return value is not None and _truthy(value) == condition
    if isinstance(condition, int | float):
        return _js_number(value) == condition
    if condition is None:
        return value is None
    if isinstance(condition, list) or not _is_operator_object(condition):
        return _json(value) == _json(condition)
    return all(_eval_operator(op, value, expected, groups) for op, expected in condition.items())


def _is_in(actual: Any, expected: list[Any], insensitive: bool = False) -> bool:
    if isinstance(actual, list):
        return any(_in_list(el, expected, insensitive) for el in actual)
    return _in_list(actual, expected, insensitive)


def _in_list(item: Any, items: list[Any], insensitive: bool) -> bool:
    if insensitive and isinstance(item, str):
        low = item.lower()
        return any(isinstance(x, str) and x.lower() == low for x in items)
    return any(_strict_eq(item, x) for x in items)


@lru_cache(maxsize=256)
def _regex(pattern: str, insensitive: bool = False) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if insensitive else 0)


def padded_version(v: Any) -> str:
    """GrowthBook's sortable version string: numeric parts left-padded, no pre-release sorts last."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = _js_str(v)
    if not v or not isinstance(v, str):
        v = "0"
    parts = re.split(r"[-.]", re.sub(r"(^v|\+.*$)", "", v))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5) if re.fullmatch(r"[0-9]+", p) else p for p in parts)


_VERSION_OPS: dict[str, Callable[[str, str], bool]] = {
    "$veq": lambda a, b: a == b,
    "$vne": lambda a, b: a != b,
    "$vgt": lambda a, b: a > b,
    "$vgte": lambda a, b: a >= b,
    "$vlt": lambda a, b: a < b,
    "$vlte": lambda a, b: a <= b,
}
_COMPARE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
}


def _type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, list):
        return "array"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "object"
    return "unknown"


def _eval_operator(op: str, actual: Any, expected: Any, groups: Mapping[str, Any]) -> bool:
    if op in _VERSION_OPS:
        return _VERSION_OPS[op](padded_version(actual), padded_version(expected))
    if op in _COMPARE_OPS:
        return _compare(actual, expected, _COMPARE_OPS[op])
    if op == "$eq":
        return _strict_eq(actual, expected)
    if op == "$ne":
        return not _strict_eq(actual, expected)
    if op == "$exists":
        return actual is not None if expected else actual is None
    if op in ("$in", "$nin", "$ini", "$nini"):
        if not isinstance(expected, list):
            return False
        return _is_in(actual, expected, op.endswith("i")) == op.startswith("$in")
    if op in ("$inGroup", "$notInGroup"):
        group = groups.get(expected) if isinstance(expected, str) else None
        return _is_in(actual, list(group or [])) == (op == "$inGroup")
    if op == "$not":
        return not _eval_value(expected, actual, groups)
    if op == "$size":
        return isinstance(actual, list) and _eval_value(expected, len(actual), groups)
    if op == "$elemMatch":
        if not isinstance(actual, list):
            return False
        if _is_operator_object(expected):
            return any(_truthy(a) and _eval_value(expected, a, groups) for a in actual)
        return any(_truthy(a) and eval_condition(a, expected, groups) for a in actual)
    if op in ("$all", "$alli"):
        if not isinstance(actual, list) or not isinstance(expected, list):
            return False
        nocase = op == "$alli"
        return all(any(_eval_value(e, a, groups, nocase) for a in actual) for e in expected)
    if op in ("$regex", "$regexi"):
        try:
            return _regex(str(expected), op == "$regexi").search(_js_str(actual)) is not None
        except re.error:
            return False
    if op == "$type":
        return bool(_type_of(actual) == expected)
    return False  # unknown operator: never matches, as in GrowthBook
