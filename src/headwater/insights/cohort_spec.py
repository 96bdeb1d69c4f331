"""Cohort definitions from JSON (API, CLI, a file), refused with the path of the bad field.

A cohort is a saved group of people: either a rule in the audience rule language (one engine for
audiences and cohorts: targeting/audience_spec.py), evaluated per person over the whole history::

    {"id": "power-users", "name": "Power users",
     "rule": {"event": "Tool Used", "min_count": 10, "within_days": 30}}

or a static list of ids (userIds or anonymousIds; each is resolved to its person through the
identity graph when the members are computed)::

    {"id": "beta-testers", "name": "Beta testers", "members": ["user-1", "user-2"]}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headwater.targeting.audience_spec import ID_PATTERN, parse_rule
from headwater.targeting.audiences import AudienceError, Rule

#: the most ids a static cohort may list (a bigger group is better described by a rule)
MAX_MEMBERS = 100_000
MAX_ID = 1024
_FIELDS = {"id", "name", "description", "rule", "members"}


class CohortError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field!r} {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Cohort:
    id: str
    name: str
    rule: Rule | None  # None: a static list
    members: tuple[str, ...] = ()
    description: str = ""
    digest: str = ""  # of the definition: the computed members are of this definition

    @property
    def kind(self) -> str:
        return "static" if self.rule is None else "rule"


def parse_cohort(obj: object) -> Cohort:
    """The cohort a definition describes, or CohortError naming the field."""
    if not isinstance(obj, Mapping):
        raise CohortError("cohort", "must be an object {id, name, rule | members}")
    unknown = sorted(str(k) for k in obj if k not in _FIELDS)
    if unknown:
        raise CohortError(unknown[0], f"is not a field of a cohort ({', '.join(sorted(_FIELDS))})")
    cohort_id = obj.get("id")
    if not isinstance(cohort_id, str) or not ID_PATTERN.fullmatch(cohort_id):
        allowed = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        raise CohortError("id", f"must be {allowed}: {cohort_id!r}")
    name = obj.get("name", cohort_id)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_ID:
        raise CohortError("name", "must be a non-empty string of at most 1024 characters")
    description = obj.get("description") or ""
    if not isinstance(description, str):
        raise CohortError("description", "must be a string")
    has_rule, has_members = obj.get("rule") is not None, obj.get("members") is not None
    if has_rule == has_members:
        raise CohortError(
            "rule", "or 'members' is required, not both: a rule of the audience language, or a list"
        )
    digest = hashlib.sha256(
        json.dumps({"rule": obj.get("rule"), "members": obj.get("members")}, sort_keys=True).encode()
    ).hexdigest()[:16]
    if has_rule:
        try:
            rule = parse_rule(obj["rule"])
        except AudienceError as exc:
            raise CohortError(exc.field, str(exc).split(": ", 1)[-1]) from None
        return Cohort(cohort_id, name, rule, (), description, digest)
    return Cohort(cohort_id, name, None, _members(obj["members"]), description, digest)


def _members(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise CohortError("members", "must be an array of ids (userIds or anonymousIds)")
    if len(value) > MAX_MEMBERS:
        raise CohortError(
            "members", f"may list at most {MAX_MEMBERS:,} ids (describe a bigger group by a rule)"
        )
    out: dict[str, None] = {}
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_ID or "\x00" in item:
            raise CohortError(f"members[{i}]", f"must be a non-empty id of at most {MAX_ID} characters")
        out[item] = None
    return tuple(out)
