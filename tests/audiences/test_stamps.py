"""The claim both the live tailer and the nightly rest on: evaluating over each condition's `keep`
latest stamps gives the same membership as evaluating over every event."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from headwater.targeting.audience_spec import parse_audience
from headwater.targeting.audiences import EventRecord, evaluate
from headwater.targeting.membership import CompiledAudiences, latest, members_slow

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
RULES = [
    {"event": "buy", "min_count": 3, "within_days": 10},
    {"event": "buy", "where": [{"property": "total", "op": "gt", "value": 50}], "min_count": 2},
    {"event": "refund", "not_within_days": 20},
    {"all": [{"event": "buy", "min_count": 2, "within_days": 30}, {"event": "refund", "not_within_days": 5}]},
    {"any": [{"event": "view", "min_count": 5, "within_days": 3}, {"event": "buy", "within_days": 1}]},
]
AUDIENCES = [parse_audience({"id": f"a{i}", "name": "n", "rule": r}) for i, r in enumerate(RULES)]


@pytest.mark.parametrize("seed", range(40))
def test_latest_stamps_decide_like_all_events(seed: int) -> None:
    rng = random.Random(seed)
    compiled = CompiledAudiences(AUDIENCES)
    events = [
        EventRecord(
            rng.choice(["buy", "refund", "view"]),
            NOW - timedelta(hours=rng.uniform(-2, 24 * 40)),  # a few in the future: ignored by both
            {"total": rng.choice([10, 60, 100])},
        )
        for _ in range(rng.randint(0, 30))
    ]
    stamps: dict[str, list[int]] = {}
    for cond in compiled.conditions.values():
        matching = [
            int(e.at.timestamp() * 1000)
            for e in events
            if e.name == cond.event and cond.matches(e.properties) and e.at <= NOW
        ]
        stamps[cond.key] = latest(matching, cond.keep)
    expected = {a.id for a in AUDIENCES if evaluate(a.rule, events, NOW)}
    assert compiled.members(stamps, NOW) == expected == members_slow(compiled, stamps, NOW)
