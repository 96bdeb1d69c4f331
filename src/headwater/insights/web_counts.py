"""The counts of a web analytics answer (web.py), in numpy, from its visits and page counts as
Arrow tables: the summary of each period and the top values of every list asked for.

``visits``: one row per visit, ``person`` (any type: numbered by hashing), ``period`` (int8: 1 the
range, 2 the previous period with ``compare``, 0 neither: read only to start visits right), ``pv``
(its page views), ``mpv`` (those the filters match: a visit is counted when it has one), ``dur_us``
(microseconds from its first page view to its last), and one column per visit list (web_sql's
VISIT_LISTS' names: ``entry``, ``exit``, ``src``, ``utm_source``, ...). ``pages``: (person, path, n)
the page views counted in the range, n of a path at a time.

A list's values are numbered by hashing (Arrow's dictionary encoding, NULL a value of its own), and
each value's visits, page views, bounces and duration are sums by number (``bincount``). Its
distinct visitors are the distinct (value, person) pairs: a bitmap of values by people where it is
small beside the rows (``MATRIX_CELLS``: a list of browsers, or of 1,000 pages for 50,000 people
and millions of visits), else one sort of the pairs (a list of 100,000 values: memory bounded by
the visits). Durations are summed in whole
microseconds, so a mean is exact before it is rounded. The same counts as the SQL they replace
(web_sql's summary and lists: one GROUP BY of every visit once per list, 11 lists, with a distinct
count each), a tenth of the time over millions of visits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: a bitmap of values by people counts distinct visitors up to this many cells (bytes), and up to
#: this many cells per row counted (a bitmap is written whole, a sort costs per row); else a sort
MATRIX_CELLS = 1 << 26
MATRIX_PER_ROW = 32


@dataclass(frozen=True, slots=True)
class Totals:
    """A period's figures: distinct visitors, visits, page views (matched), bounces (visits of one
    page view), and the visits' summed duration in microseconds."""

    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    bounces: int = 0
    duration_us: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    """A list's row: its value (None: no value), distinct visitors, and for a visit list its
    visits, bounces and duration (None for the pages list)."""

    value: str | None
    visitors: int
    pageviews: int
    visits: int | None = None
    bounces: int | None = None
    duration_us: int | None = None


class Counted:
    """The counted visits of the range (``period`` 1, a matched page view) of a ``visits`` table,
    their people numbered; the lists read from them."""

    def __init__(self, visits: Any) -> None:
        self.table = visits
        self.rows, self.person, self.people = _chosen(visits, 1)
        self.mpv = _column(visits, "mpv")[self.rows]
        self.bounce = _column(visits, "pv")[self.rows] == 1
        self.dur = _column(visits, "dur_us")[self.rows]

    def totals(self) -> Totals:
        """The range's figures."""
        import numpy as np

        return Totals(
            visitors=self.people if len(self.rows) else 0,
            visits=len(self.rows),
            pageviews=int(self.mpv.sum()),
            bounces=int(np.count_nonzero(self.bounce)),
            duration_us=int(self.dur.sum()),
        )

    def list_rows(self, column: str, limit: int, null_as: str | None = None) -> tuple[list[Row], Row | None]:
        """The top ``limit`` values of the visit list over ``column`` (NULL read as ``null_as``),
        ranked by visitors, visits, page views, then value (text order, None last), and the rest
        as one row (value None) or None when nothing was left out."""
        import numpy as np

        codes, values = _coded(self.table.column(column), null_as)
        codes = codes[self.rows]
        n = len(values)
        visits = np.bincount(codes, minlength=n)
        pageviews = _sums(codes, self.mpv, n)
        bounces = np.bincount(codes[self.bounce], minlength=n)
        duration = _sums(codes, self.dur, n)
        visitors = _distinct(codes, n, self.person, self.people)
        ranked = _ranked(values, visitors, visits, pageviews, visits > 0)
        kept = ranked[:limit]
        rows = [
            Row(
                values[i],
                int(visitors[i]),
                int(pageviews[i]),
                int(visits[i]),
                int(bounces[i]),
                int(duration[i]),
            )
            for i in kept
        ]
        if len(kept) == len(ranked):
            return rows, None
        rest = _left_out(codes, kept, n)
        other = Row(
            None,
            _people(self.person[rest], self.people),
            int(self.mpv.sum() - pageviews[kept].sum()),
            int(len(codes) - visits[kept].sum()),
            int(self.bounce.sum() - bounces[kept].sum()),
            int(self.dur.sum() - duration[kept].sum()),
        )
        return rows, other


def totals(visits: Any, period: int) -> Totals:
    """The figures of ``period`` (1 the range, 2 the previous one) over the visits with a
    matched page view."""
    import numpy as np

    rows, _, people = _chosen(visits, period)
    return Totals(
        visitors=people,
        visits=len(rows),
        pageviews=int(_column(visits, "mpv")[rows].sum()),
        bounces=int(np.count_nonzero(_column(visits, "pv")[rows] == 1)),
        duration_us=int(_column(visits, "dur_us")[rows].sum()),
    )


def _column(table: Any, name: str) -> Any:
    import numpy as np

    return table.column(name).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _chosen(visits: Any, period: int) -> tuple[Any, Any, int]:
    """The visits of ``period`` with a matched page view (indices), their people numbered 0..n-1
    among them, and n."""
    import numpy as np

    rows = np.flatnonzero((_column(visits, "period") == period) & (_column(visits, "mpv") > 0))
    everyone, _ = _numbered(visits.column("person"))
    person = everyone[rows]
    present = np.bincount(person, minlength=int(person.max()) + 1 if len(person) else 0) > 0
    dense = np.cumsum(present) - 1
    return rows, dense[person], int(np.count_nonzero(present))


def page_rows(pages: Any, limit: int) -> tuple[list[Row], Row | None]:
    """The top ``limit`` paths of ``pages`` (person, path, n) by distinct visitors, then page views
    and path, and the rest as one row (or None)."""
    import numpy as np

    if pages.num_rows == 0:
        return [], None
    codes, values = _coded(pages.column("path"), None)
    person, people = _numbered(pages.column("person"))
    views = pages.column("n").to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(values)
    pageviews = _sums(codes, views, n)
    visitors = _distinct(codes, n, person, people)
    ranked = _ranked(values, visitors, np.zeros(n, np.int64), pageviews, np.bincount(codes, minlength=n) > 0)
    kept = ranked[:limit]
    rows = [Row(values[i], int(visitors[i]), int(pageviews[i])) for i in kept]
    if len(kept) == len(ranked):
        return rows, None
    rest = _left_out(codes, kept, n)
    return rows, Row(None, _people(person[rest], people), int(views.sum() - pageviews[kept].sum()))


def _numbered(column: Any) -> tuple[Any, int]:
    """Each row's number among the column's distinct values (int64 numpy), and how many."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_integer(array.type) and array.null_count == 0 and len(array):
        values = array.to_numpy()
        changed = values[1:] != values[:-1]
        if bool((values[1:] >= values[:-1]).all()):  # sorted (the summary's visits): no hashing
            ids = np.zeros(len(values), np.int64)
            np.cumsum(changed, out=ids[1:])
            return ids, int(ids[-1]) + 1
    encoded = pc.dictionary_encode(array)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(encoded.dictionary)


def _coded(column: Any, null_as: str | None) -> tuple[Any, list[str | None]]:
    """Each row's value number, NULL numbered too (read as ``null_as``), and the values; values
    equal once NULL is read share a number. A dictionary column keeps its numbers (its values may
    include some no row has)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array, null_encoding="encode")
    values: list[str | None] = [null_as if v is None else v for v in array.dictionary.to_pylist()]
    indices = array.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(values))
        values.append(null_as)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(set(values)) < len(values):
        first: dict[str | None, int] = {}
        merged = np.array([first.setdefault(v, len(first)) for v in values], np.int64)
        return merged[codes], list(first)
    return codes, values


def _sums(codes: Any, weights: Any, n: int) -> Any:
    """Integer sums of non-negative int64 ``weights`` per code, exact: bincount adds in float64,
    exact below 2**53, so large weights are added as their high and low 24 bits apart."""
    import numpy as np

    if not len(codes) or int(weights.max()) * len(codes) < 1 << 53:
        return np.bincount(codes, weights=weights, minlength=n).astype(np.int64)
    low = np.bincount(codes, weights=weights & 0xFFFFFF, minlength=n).astype(np.int64)
    high = np.bincount(codes, weights=weights >> 24, minlength=n).astype(np.int64)
    return (high << 24) + low


def _distinct(codes: Any, n: int, person: Any, people: int) -> Any:
    """The distinct people per code (module doc: a bitmap where small, else a sort)."""
    cells = n * people
    if cells <= MATRIX_CELLS and cells <= MATRIX_PER_ROW * len(codes):
        return _by_bitmap(codes, n, person, people)
    return _by_sort(codes, n, person, people)


def _by_bitmap(codes: Any, n: int, person: Any, people: int) -> Any:
    import numpy as np

    seen = np.zeros(n * people, np.bool_)
    seen[codes * people + person] = True
    return np.count_nonzero(seen.reshape(n, people), axis=1)


def _by_sort(codes: Any, n: int, person: Any, people: int) -> Any:
    """Sorted (code, person) keys, each counted once where it differs from the one before: a sort,
    not np.unique, which in numpy 2.4 hashes its input (8M keys: 9 s against 0.5 s sorted)."""
    import numpy as np

    keys = np.sort(codes * people + person)
    first = np.empty(len(keys), np.bool_)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return np.bincount(keys[first] // people, minlength=n)


def _left_out(codes: Any, kept: Any, n: int) -> Any:
    """Whether each row's code is not one of ``kept`` (of ``n`` codes): a lookup in a table of the
    codes, not np.isin (0.06 s a list over 4.2M visits)."""
    import numpy as np

    out = np.ones(n, np.bool_)
    out[kept] = False
    return out[codes]


def _people(person: Any, people: int) -> int:
    import numpy as np

    return int(np.count_nonzero(np.bincount(person, minlength=people)))


def _ranked(values: list[str | None], visitors: Any, visits: Any, pageviews: Any, used: Any) -> Any:
    """The numbers of the values ``used`` (a row has them), best first: visitors, visits, page
    views (descending), then the value in text order (code points, as the SQL's byte order of
    UTF-8), None last."""
    import numpy as np

    text = sorted(range(len(values)), key=lambda i: (values[i] is None, values[i] or ""))
    order = np.empty(len(values), np.int64)
    order[np.array(text, np.int64)] = np.arange(len(values))
    ranked = np.lexsort((order, -pageviews, -visits, -visitors))
    return ranked[used[ranked]]
