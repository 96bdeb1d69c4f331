"""The canonical timestamp form: what isoformat would write, cut to milliseconds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from headwater.events.timestamps import format_timestamp, parse_timestamp


def _reference(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_edges() -> None:
    base = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    assert format_timestamp(base) == "2026-11-25T01:02:03.000Z"
    assert format_timestamp(base.replace(microsecond=999_999)) == "2026-11-25T01:02:03.999Z"  # truncated
    assert format_timestamp(base.replace(microsecond=1_000)) == "2026-11-25T01:02:03.001Z"
    assert format_timestamp(base.replace(microsecond=1)) == "2026-11-25T01:02:03.000Z"
    paris = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 1, 1, 0, 30, tzinfo=paris)) == "2025-12-31T23:30:00.000Z"
    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"


def test_same_as_isoformat_on_random_moments() -> None:
    rng = random.Random(7)
    first = datetime(1970, 1, 1, tzinfo=UTC)
    for _ in range(20_000):
        moment = first + timedelta(microseconds=rng.randrange(0, 4_000_000_000_000_000))
        if rng.random() < 0.3:
            moment = moment.replace(microsecond=rng.choice([0, 1_000, 500_000]))
        assert format_timestamp(moment) == _reference(moment)


def test_round_trip_through_parse() -> None:
    text = "2026-11-25T10:00:00.123Z"
    parsed = parse_timestamp(text)
    assert parsed is not None and format_timestamp(parsed) == text
