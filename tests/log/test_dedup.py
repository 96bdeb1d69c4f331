"""Exact sets of fingerprints, and the 24-hour dedup window of the realtime tailers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from headwater.log.tailing.dedup import RecentMessages
from headwater.log.tailing.fingerprints import COMPACT_AT, FingerprintSet


@pytest.mark.parametrize("n", [10, COMPACT_AT - 1, COMPACT_AT, 50_000])
def test_a_fingerprint_set_is_exact_through_adds_and_removals(n: int) -> None:
    rng = random.Random(n)
    truth: set[int] = set()
    s = FingerprintSet()
    for _ in range(6):
        batch = [rng.randrange(-(2**63), 2**63) for _ in range(n // 3 + 1)]
        batch += rng.sample(sorted(truth), min(len(truth), n // 10))  # some members again
        added = s.add_all(batch)
        assert added == len(set(batch) - truth)
        truth.update(batch)
        assert len(s) == len(truth)
        gone = rng.sample(sorted(truth), len(truth) // 7)
        for fp in gone[: len(gone) // 2]:
            assert s.discard(fp)
        s.discard_all(np.array(gone[len(gone) // 2 :], dtype=np.int64))
        truth.difference_update(gone)
        assert not s.discard(gone[0]) if gone else True
        assert len(s) == len(truth)
        probe = rng.sample(sorted(truth), min(50, len(truth))) + gone[:50] + [rng.randrange(2**62)]
        assert [fp in s for fp in probe] == [fp in truth for fp in probe]
        assert s.contains_many(np.array(probe, dtype=np.int64)).tolist() == [fp in truth for fp in probe]
    if n >= COMPACT_AT:
        assert len(s.base) > 0
    if n >= 10 * COMPACT_AT:  # the compact form: ~9 bytes a member
        assert s.nbytes() < 20 * len(truth)


def test_a_removed_member_added_again_is_a_member() -> None:
    s = FingerprintSet()
    s.add_all(range(COMPACT_AT + 10))
    assert len(s.base) == COMPACT_AT + 10
    assert s.discard(5) and 5 not in s and len(s) == COMPACT_AT + 9
    assert s.add_all([5]) == 1 and 5 in s and len(s) == COMPACT_AT + 10


def at(hour: int, minute: int = 0) -> str:
    day, hour = divmod(hour, 24)
    return f"2026-03-{1 + day:02d}T{hour:02d}:{minute:02d}:00.000Z"


def test_a_retry_within_24_hours_is_a_duplicate_and_later_it_counts_again() -> None:
    w = RecentMessages()
    assert w.first_seen(["m1", "m2"], [at(0), at(0)]) == [True, True]
    assert w.first_seen(["m1", "m3", "m3", "m2"], [at(5), at(5), at(5), at(23, 59)]) == [
        False,
        True,
        False,  # twice in one batch: the first counts
        False,
    ]
    assert w.duplicates == 3
    w.first_seen(["x"], [at(24, 30)])  # the log moves on: hour 0 leaves the window
    assert w.first_seen(["m1", "m3"], [at(25, 1), at(25, 1)]) == [True, False]


def test_messages_without_an_id_are_never_duplicates() -> None:
    w = RecentMessages()
    assert w.first_seen(["", "", "a"], [at(1), at(1), at(1)]) == [True, True, True]
    assert w.first_seen(["", "a"], [at(2), at(2)]) == [True, False]
    assert len(w) == 1


def test_check_remembers_nothing_until_commit() -> None:
    w = RecentMessages()
    checked = w.check(["a", "b"], [at(1), at(1)])
    assert checked.first == [True, True]
    assert w.check(["a"], [at(1)]).first == [True]  # the apply failed: "a" was never counted
    w.commit(checked)
    assert w.check(["a", "b", "c"], [at(2), at(2), at(2)]).first == [False, False, True]


def test_the_window_stays_bounded_by_a_day_of_messages() -> None:
    w = RecentMessages()
    per_hour = 5_000
    for hour in range(72):
        ids = [f"{hour}-{i}" for i in range(per_hour)]
        assert all(w.first_seen(ids, [at(hour, i % 60) for i in range(per_hour)]))
    assert 24 * per_hour <= len(w) <= 25 * per_hour
    assert w.nbytes() < 30 * len(w)
