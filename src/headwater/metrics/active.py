"""Active users: DAU, WAU, MAU and stickiness.

WAU(d) and MAU(d) are exact distinct counts over the 7 / 30 days ending on d, computed without
ever summing unique counts: each person's active days become a bit mask (one aggregate over the
person-day pairs, persons as integers when the lake allows), the mask is smeared over the window,
and the persons covering each day are counted bit by bit.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.metrics.shapes import series_rows, window_days

Result = dict[str, Any]


#: Days of activity held per query chunk: 4 words of 64 bits per person.
_WORDS = 4


def active_counts(scope: Scope, window: int) -> dict[date, int]:
    """Distinct users active in the `window` days ending on each day of the scope's range."""
    rng = scope.rng
    out: dict[date, int] = {}
    step = _WORDS * 64 - (window - 1)  # days answered per chunk
    first = rng.start
    while first <= rng.end:
        last = min(rng.end, first + timedelta(days=step - 1))
        out.update(_chunk_counts(scope, window, first, last))
        first = last + timedelta(days=1)
    return out


def _chunk_counts(scope: Scope, window: int, first: date, last: date) -> dict[date, int]:
    """Each person's active days (from `window - 1` days before `first` to `last`) as a bit mask of
    64-bit words, one row per person; the mask is smeared over the window (day a covers a..a+window-1)
    and the people covering each day are counted by popcount per bit position. Exact, no sort."""
    origin = first - timedelta(days=window - 1)
    span = (last - origin).days + 1
    words = (span + 63) // 64
    off = f"(day - DATE {quote(origin.isoformat())})"
    masks = ", ".join(
        f"bit_or(CASE WHEN {off} // 64 = {w} THEN 1::UBIGINT << ({off} % 64)::UBIGINT "
        f"ELSE 0::UBIGINT END) AS w{w}"
        for w in range(words)
    )
    arrays = scope.person_day_arrays(origin, last)
    if arrays is not None:
        mask = _masks_of_arrays(arrays, scope.person_count(), origin, words)
        n = len(mask)
    else:
        rows = scope.numpy(
            f"""SELECT {masks} FROM ({scope.person_days(origin, last)})
                WHERE person IS NOT NULL GROUP BY person"""
        )
        n = len(rows["w0"]) if rows else 0
        mask = np.empty((n, words), dtype="<u8")
        for w in range(words):
            mask[:, w] = rows[f"w{w}"]
    if n == 0:
        return {first + timedelta(days=i): 0 for i in range((last - first).days + 1)}
    width = 1
    while width < window:  # doubling: after it, bit d is set when any of bits d-window+1..d was
        s = min(width, window - width)
        mask |= _shift_left(mask, s)
        width += s
    bits = np.zeros(words * 64, dtype=np.int64)
    for lo in range(0, n, 1 << 16):
        part = np.ascontiguousarray(mask[lo : lo + (1 << 16)])
        bits += np.unpackbits(part.view(np.uint8), axis=1, bitorder="little").sum(axis=0, dtype=np.int64)
    start = (first - origin).days
    return {first + timedelta(days=i): int(bits[start + i]) for i in range((last - first).days + 1)}


#: Pairs grouped per pass in _masks_of_arrays: small temporaries, reused from one pass to the next.
_PAIRS_PER_PASS = 1 << 20


def _masks_of_arrays(
    arrays: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]], people: int, origin: date, words: int
) -> np.ndarray[Any, Any]:
    """One row of `words` 64-bit words per person id (0..people-1), bit k set when the person was
    active on day origin + k. The pairs are taken a million at a time, grouped by day (a radix sort
    of 16-bit offsets: a chunk spans at most _WORDS * 64 days), and each day sets its bit for all its
    people at once (a repeated person sets the same bit twice). The pairs come file by file, so a
    pass holds few days."""
    days, persons = arrays
    mask = np.zeros((people, words), dtype="<u8")
    base = np.int32((origin - date(1970, 1, 1)).days)
    for start in range(0, len(days), _PAIRS_PER_PASS):
        offsets = (days[start : start + _PAIRS_PER_PASS] - base).astype(np.int16)
        order = np.argsort(offsets, kind="stable")
        offsets, who = offsets[order], persons[start : start + _PAIRS_PER_PASS][order]
        cuts = np.flatnonzero(np.diff(offsets)) + 1
        for lo, hi in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [len(offsets)])), strict=True):
            off = int(offsets[lo])
            mask[who[lo:hi], off // 64] |= np.uint64(1) << np.uint64(off % 64)
    return mask


def _shift_left(mask: np.ndarray[Any, Any], s: int) -> np.ndarray[Any, Any]:
    """Multi-word left shift by 0 < s < 64 bits (word 0 holds the lowest bits)."""
    out = mask << np.uint64(s)
    out[:, 1:] |= mask[:, :-1] >> np.uint64(64 - s)
    return out


def _series(scope: Scope, window: int) -> Result:
    counts = active_counts(scope, window)
    days = scope.rng.days()
    missing = scope.missing_days(window_days(scope.rng.start, scope.rng.end, window))
    rows = series_rows(days, counts, missing, window)
    return {"rows": rows}


def dau(scope: Scope) -> Result:
    """Distinct users active on each day."""
    return _series(scope, 1)


def wau(scope: Scope) -> Result:
    """Distinct users active in the 7 days ending on each day."""
    return _series(scope, 7)


def mau(scope: Scope) -> Result:
    """Distinct users active in the 30 days ending on each day."""
    return _series(scope, 30)


def stickiness(scope: Scope) -> Result:
    """DAU/MAU per day, and how many users were active on 1, 2, ... days of the range."""
    daily = active_counts(scope, 1)
    monthly = active_counts(scope, 30)
    missing = scope.missing_days(scope.rng.days())
    rows = []
    for day in scope.rng.days():
        gone = day in missing
        d, m = daily[day], monthly[day]
        rows.append(
            {
                "date": day.isoformat(),
                "dau": None if gone else d,
                "mau": None if gone else m,
                "value": None if gone or m == 0 else round(d / m, 6),
                "missing": gone,
            }
        )
    dist = scope.sql(
        f"""
        SELECT n, count(*) FROM (
            SELECT person, count(DISTINCT day) AS n FROM ({scope.person_days(scope.rng.start, scope.rng.end)})
            GROUP BY person
        ) GROUP BY n ORDER BY n
        """
    )
    return {"rows": rows, "active_days": [{"days": int(n), "users": int(c)} for n, c in dist]}
