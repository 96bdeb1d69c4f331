"""lake/time_order.py: rows in (owner, time) order, stable, whichever way they are sorted (one sort
of 64-bit keys, or by time and then by owner when the times are nearly sorted already)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import headwater.lake.time_order as time_order_module
from headwater.lake.time_order import latest_ends, time_order


def by_hand(owners: list[object], times: list[int]) -> list[int]:
    """Positions sorted by (owner's first appearance number, time), ties in row order."""
    number: dict[object, int] = {}
    for owner in owners:
        number.setdefault(owner, len(number))
    return sorted(range(len(times)), key=lambda i: (number[owners[i]], times[i], i))


def _rows(nearly_sorted: bool, owners: int, seed: int) -> tuple[list[object], np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 5_000 if owners < 1 << 16 else 90_000  # enough rows for more than 65,536 owners
    times = np.sort(rng.integers(0, 10**9, n)) if nearly_sorted else rng.integers(0, 10**9, n)
    times[rng.integers(0, n, 300)] = 5  # ties, and (when sorted) a few descents
    if nearly_sorted:
        times = np.sort(times)
        times[[10, 20]] = times[[20, 10]]
    who = rng.integers(0, owners, n)
    return [f"p{w}" for w in who], times.astype(np.int64)


@pytest.mark.parametrize("nearly_sorted", [True, False])
@pytest.mark.parametrize("owners", [3, 10**7])  # one 16-bit digit of owner numbers, and two
def test_both_ways_give_the_order_by_hand(nearly_sorted: bool, owners: int) -> None:
    names, times = _rows(nearly_sorted, owners, seed=owners)
    got = time_order(pa.array(names), times)
    assert (int(got.ids.max()) >= 1 << 16) == (owners > 1 << 16)
    assert got.order.tolist() == by_hand(names, times.tolist())
    assert got.base == int(times.min()) and got.span == int(times.max() - times.min()) + 1


def test_the_way_taken_is_the_one_the_times_call_for(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    digits = time_order_module._by_digits

    def spy(ids: object, order: object) -> object:
        taken.append("digits")
        return digits(ids, order)

    monkeypatch.setattr(time_order_module, "_by_digits", spy)
    names, times = _rows(True, 3, seed=1)
    time_order(pa.array(names), times)
    assert taken == ["digits"]
    names, times = _rows(False, 3, seed=1)
    time_order(pa.array(names), times)
    assert taken == ["digits"]  # random times: one sort of keys


def latest_by_hand(ids: list[int], ends: list[int]) -> list[int]:
    out: list[int] = []
    for i, (owner, end) in enumerate(zip(ids, ends, strict=True)):
        same = i > 0 and ids[i - 1] == owner
        out.append(max(out[-1], end) if same else end)
    return out


@pytest.mark.parametrize("spread", [10**9, 1 << 61])  # one block of owners; blocks of one or two
def test_the_latest_end_starts_again_at_each_owner(spread: int) -> None:
    """With ends spread over 2**61 microseconds, ``owner * span + end`` does not fit 64 bits past
    the second owner (as a year of times for a million people would not): the running maximum is
    taken per block of owners and is still right."""
    rng = np.random.default_rng(spread % 1000)
    ids = np.sort(rng.integers(0, 40, 400)).astype(np.int64)
    ends = rng.integers(0, spread, 400).astype(np.int64)
    got = latest_ends(ids, ends)
    assert got.tolist() == latest_by_hand(ids.tolist(), ends.tolist())
    if spread > 1 << 60:  # the single running maximum of the old keys is wrong here
        span = int(ends.max() - ends.min()) + 1
        with np.errstate(over="ignore"):
            old = np.maximum.accumulate(ids * span + (ends - ends.min())) - ids * span + ends.min()
        assert old.tolist() != latest_by_hand(ids.tolist(), ends.tolist())
    assert latest_ends(ids[:0], ends[:0]).tolist() == []
