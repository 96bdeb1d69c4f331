"""The visit rollup web analytics reads (insights/web_rollup.py): each actor's runs of page views
per received day.

A run is an actor's page views (``type = 'page'``, not a known bot's) of one received day without a
gap of more than 30 minutes (the session rule, events/sessions.py). A visit is a person's page views
without such a gap, so a person's visits are their runs (of every actor merged into them, of every
received day) merged where one starts at most 30 minutes after the latest end before it, as the
sessions metric merges the session rollup's runs; a run keeps what its visit reads of it: its start
and end, its page views, its first page view's path (entry), source (the referrer's domain unless it
is the page's own host), UTM, device, browser, OS, country and region, its last page view's path
(exit), and its page views per path (the pages list).

``tie_first`` / ``tie_last``: another page view of the run has its first (last) instant, so which is
first (last) is not a fact of the data; a visit starting (ending) with such a run is read from the
events. One row per run, sorted by start: a query's window prunes row groups.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import backfill_recvs, copy_to_parquet
from headwater.lake.rollups.dimension_days import received_rows
from headwater.lake.time_order import run_ends, run_starts, time_order

#: the events web analytics reads: page views that are not a known bot's
PAGE_EVENTS = "type = 'page' AND NOT coalesce(bot, false)"
#: the lake's derived columns a page view is described by (lake/derived.py), and their short names
PAGE_COLUMNS = {
    "d_path": "path",
    "d_referrer_domain": "ref_domain",
    "d_host": "host",
    "d_utm_source": "utm_source",
    "d_utm_medium": "utm_medium",
    "d_utm_campaign": "utm_campaign",
    "d_browser": "browser",
    "d_os": "os",
    "d_device_type": "device_type",
    "d_country": "country",
    "d_region": "region",
}
#: what a visit takes of its first page view (beside its path, the entry)
FIRST_VIEW = (
    "src",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "browser",
    "os",
    "device_type",
    "country",
    "region",
)


def source_sql(row: str = "") -> str:
    """The source of a page view (of the row alias ``row``): the referrer's domain, unless it is
    the page's own host."""
    at = f"{row}." if row else ""
    return f"CASE WHEN {at}ref_domain IS DISTINCT FROM {at}host THEN {at}ref_domain END"


#: page views cut into runs at a time (bounded memory)
CHUNK_ROWS = 2_000_000
_PAGES, _MARKS = "hw_visit_pages", "hw_visit_marks"


def write_visits(con: Any, lake: Lake, recv: date) -> None:
    """The visit rollup of one received day (module doc), from its lake rows."""
    target = lake.visits_file(recv)
    rows = received_rows(con, lake, recv, ("actor", "ts", "type", "bot", *PAGE_COLUMNS))
    if rows is None:
        target.unlink(missing_ok=True)
        return
    values = ", ".join(f"{column} AS {name}" for column, name in PAGE_COLUMNS.items())
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_PAGES} AS
            SELECT hash(actor) AS actor_hash, ts, {values}
            FROM ({rows}) WHERE actor IS NOT NULL AND {PAGE_EVENTS}"""
    )
    try:
        _mark_runs(con)
        first = ", ".join(f"any_value({c}) FILTER (WHERE first) AS {c}" for c in FIRST_VIEW)
        described = f"* EXCLUDE (ref_domain, host), {source_sql()} AS src"
        view = f"SELECT {described} FROM {_PAGES} POSITIONAL JOIN {_MARKS}"
        copy_to_parquet(
            con,
            f"""SELECT r.actor_hash, r.start_ts, r.end_ts, r.pageviews, r.entry, r.exit,
                       {", ".join(FIRST_VIEW)}, p.paths, r.tie_first, r.tie_last
                FROM (SELECT run, any_value(actor_hash) AS actor_hash, min(ts) AS start_ts, max(ts) AS end_ts,
                             count(*)::BIGINT AS pageviews, any_value(path) FILTER (WHERE first) AS entry,
                             any_value(path) FILTER (WHERE last) AS exit, {first},
                             bool_or(tie_first) AS tie_first, bool_or(tie_last) AS tie_last
                      FROM ({view}) GROUP BY run) r
                JOIN (SELECT run, list({{'path': path, 'views': views}} ORDER BY path) AS paths
                      FROM (SELECT run, path, count(*)::BIGINT AS views FROM ({view}) GROUP BY run, path)
                      GROUP BY run) p USING (run)
                ORDER BY r.start_ts, r.actor_hash""",
            target,
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_PAGES}")
        con.unregister(_MARKS)


def _mark_runs(con: Any) -> None:
    """The table hw_visit_marks (run, first, last, tie_first, tie_last), row by row beside
    hw_visit_pages: each page view's run (numbered over the day), whether it is its run's first or
    last, and whether another page view of the run has the same first (last) instant.

    In numpy, as the session rollup cuts runs: actors numbered by hashing, one sort of 64-bit keys
    ``actor * span + time``, vectorized gap tests; CHUNK_ROWS page views at a time (by the actor's
    hash: a run never spans two chunks)."""
    import numpy as np
    import pyarrow as pa

    n = int(con.execute(f"SELECT count(*) FROM {_PAGES}").fetchone()[0])
    run = np.zeros(n, np.int64)
    first, last = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    tie_first, tie_last = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    chunks = max(1, -(-n // CHUNK_ROWS))
    runs = 0
    for k in range(chunks):
        part = f"WHERE actor_hash % {chunks} = {k}" if chunks > 1 else ""
        cols = con.execute(
            f"SELECT rowid AS rid, actor_hash, epoch_us(ts) AS t FROM {_PAGES} {part}"
        ).fetchnumpy()
        if len(cols["rid"]) == 0:
            continue
        t = np.asarray(cols["t"], dtype=np.int64)
        ids, order, _, _ = time_order(cols["actor_hash"], t)
        ids, t, rid = ids[order], t[order], np.asarray(cols["rid"])[order]
        brk = run_starts(ids, t)
        ends = run_ends(brk)
        same = np.zeros(len(t), dtype=np.bool_)  # the next page view is of the run, at the same instant
        same[:-1] = ~brk[1:] & (t[1:] == t[:-1])
        after = np.zeros(len(t), dtype=np.bool_)  # the page view before is of the run, at the same instant
        after[1:] = same[:-1]
        run[rid] = np.cumsum(brk) + runs - 1
        first[rid], last[rid] = brk, ends
        tie_first[rid], tie_last[rid] = brk & same, ends & after
        runs += int(brk.sum())
    con.register(
        _MARKS,
        pa.table({"run": run, "first": first, "last": last, "tie_first": tie_first, "tie_last": tie_last}),
    )


def backfill_visits(con: Any, lake: Lake) -> list[date]:
    """The visit rollup of received days loaded before it existed; the days written."""
    return backfill_recvs(lake, lake.visits_file, lambda recv: write_visits(con, lake, recv))
