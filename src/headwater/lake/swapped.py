"""A query that read a lake file while a writer swapped it for a new version is run again.

Every lake writer replaces a file whole (a temporary file, then a rename: the ETL, an erase, a
retention, a rollup), so a reader opening the path finds the old file or the new one. But DuckDB
opens a Parquet file's path more than once in one query (the footer when it binds, the pages when it
scans, from several threads), so a rename in between gives it the new file's bytes at the old
file's offsets: "TProtocolException: Invalid data", "Prefetch registered for bytes outside file",
"ZSTD Decompression failure", "don't know what type", or a file gone when an erase removed it. In a
loop of queries over six files that one thread kept swapping, about one query in six failed so.

Such a failure looks like a damaged file, and cannot be told from one by its text: :func:`read_again`
runs a query whose read of the lake failed again, over a fresh view of the lake (a new Scope: its
own list of files), at most READ_TRIES times. A file damaged for good fails every run and is
reported as before (lake/query.py names it); an error of the request (a MetricError other than
``query_failed``) is never run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError

T = TypeVar("T")

#: runs of a query whose read of the lake failed
READ_TRIES = 4
#: seconds to wait before the n-th run again: n * PAUSE (a rename is over in microseconds; the
#: pause lets a burst of swaps, an erase's, move on)
PAUSE = 0.05


def read_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed read of the lake (what a file swapped under the query gives):
    a LakeError, a MetricError ``query_failed`` (lake/query.py's names for DuckDB's errors), or
    DuckDB's own error."""
    if isinstance(exc, LakeError):
        return True
    if isinstance(exc, MetricError):
        return exc.code == "query_failed"
    return type(exc).__module__.startswith(("duckdb", "_duckdb"))


def read_again(run: Callable[[], T]) -> T:
    """``run()``, run again when it failed on a lake file swapped under it (module doc)."""
    for attempt in range(1, READ_TRIES + 1):
        try:
            return run()
        except Exception as exc:
            if attempt == READ_TRIES or not read_failed(exc):
                raise
            time.sleep(PAUSE * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
