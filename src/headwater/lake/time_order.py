"""The order of rows by owner (a person, an actor) and time, for the numpy passes that cut runs
and visits (lake/rollups/visits.py, insights/web.py and web_rollup.py, metrics/sessions.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

from headwater.events.sessions import INACTIVITY_US

#: times with at most one descent per this many rows (the visit rollup's runs, read file after
#: file, each sorted by time) are sorted by time first (timsort: nearly linear), then by owner
NEARLY_SORTED = 256


class TimeOrder(NamedTuple):
    ids: Any  #: each row's owner as a dense number (int64), in the rows' order
    order: Any  #: the rows' positions sorted by (owner, time), stable
    base: int  #: the earliest time
    span: int  #: latest time - base + 1: ``ids * span + (t - base)`` orders by owner, then time


def time_order(owners: Any, times: Any, latest: Any = None) -> TimeOrder:
    """Owners numbered by hashing (pyarrow's dictionary encoding: no sort), then one stable sort of
    64-bit keys ``owner * span + time`` (a sort of (owner, time) pairs when the keys would not fit
    in 62 bits), or, when the times are nearly sorted already (NEARLY_SORTED), a stable sort by
    time and then by owner (the same order, in half the time: measured over 4.3M runs).
    ``owners``: a numpy or Arrow array; ``times``: int64 numpy (epoch microseconds); ``latest``:
    the times the span must hold as well (the ends of runs), if not ``times``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = owners.combine_chunks() if isinstance(owners, pa.ChunkedArray) else pa.array(owners)
    ids = pc.dictionary_encode(column).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    base = int(times.min())
    span = int((times if latest is None else latest).max()) - base + 1
    if np.count_nonzero(times[1:] < times[:-1]) <= len(times) // NEARLY_SORTED:
        order = _by_digits(ids, np.argsort(times, kind="stable"))
    elif (int(ids.max()) + 1) * span < 1 << 62:
        order = np.argsort(ids * span + (times - base), kind="stable")
    else:
        order = np.lexsort((times, ids))
    return TimeOrder(ids, order, base, span)


def _by_digits(ids: Any, order: Any) -> Any:
    """``order`` (rows sorted by time) sorted by owner too, stable: one radix sort per 16 bits of
    the owners' numbers (numpy sorts 16-bit keys by radix: no comparisons)."""
    import numpy as np

    shift, top = 0, int(ids.max()) if len(ids) else 0
    while True:
        digit = ((ids[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def run_starts(ids: Any, times: Any) -> Any:
    """Over rows sorted by (owner, time): True where a run starts, at a new owner or after a gap
    of more than 30 minutes (the session rule, events/sessions.py)."""
    import numpy as np

    starts = np.empty(len(times), dtype=np.bool_)
    if len(times):
        starts[0] = True
        starts[1:] = (ids[1:] != ids[:-1]) | (times[1:] - times[:-1] > INACTIVITY_US)
    return starts


def run_ends(starts: Any) -> Any:
    """True where a run ends: the row before the next run's start, and the last row."""
    import numpy as np

    ends = np.empty(len(starts), dtype=np.bool_)
    if len(starts):
        ends[:-1], ends[-1] = starts[1:], True
    return ends


def latest_ends(ids: Any, ends: Any) -> Any:
    """Over rows sorted by (owner, time), ``ids`` the owners' numbers (ascending): per row, the
    latest of ``ends`` among its owner's rows up to it (a running maximum that starts again at
    each owner). One running maximum of ``owner * span + end`` per block of owners few enough that
    the keys fit in 62 bits: a year of microseconds times a million people would not."""
    import numpy as np

    n = len(ends)
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    base = int(ends.min())
    span = int(ends.max()) - base + 1
    block = max(1, (1 << 62) // span)
    lo = 0
    while lo < n:
        first = int(ids[lo])
        hi = int(np.searchsorted(ids, first + block, side="left"))
        local = (ids[lo:hi] - first) * span
        out[lo:hi] = np.maximum.accumulate(local + (ends[lo:hi] - base)) - local + base
        lo = hi
    return out
