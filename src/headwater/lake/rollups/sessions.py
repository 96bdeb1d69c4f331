"""The session rollup: each actor's runs of events without a gap longer than the session rule's
inactivity (headwater.events.sessions), per received day."""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import backfill
from headwater.lake.time_order import run_starts

#: The session rollup computes the runs of this many events at a time (memory bound).
SESSION_CHUNK_ROWS = 2_000_000
#: Its runs are written sorted by actor_hash, then start, in row groups of this many rows: a
#: person's runs of a day sit in one row group, which the Parquet statistics of actor_hash let a
#: profile read alone (people/profile.py: 0.9 s -> 0.13 s for one person over 90 days of bench_web's
#: 50M lake, 404,000 runs a day), and whole-file scans read the same rows in several groups (as
#: fast or faster than in one: 0.5 s against 0.54-0.57 s for a count over the 90 days).
SESSION_ROW_GROUP = 32_768


def gap_segments(h: Any, t: Any) -> tuple[Any, Any, Any, Any]:
    """Split each actor's events at gaps of more than 30 minutes: (actor hash, start, end, events)
    of every run, times in epoch microseconds. ``h`` (uint64) and ``t`` (int64) are numpy arrays.

    One sort of 64-bit keys ``actor number * span + time`` (a sort of (actor, time) pairs when the
    keys would not fit), then vectorized gap tests: no window functions over the events (which
    cost several times more in the ETL)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(h)
    if n == 0:
        return h[:0], t[:0], t[:0], np.zeros(0, np.int64)
    coded = pc.dictionary_encode(pa.array(h))  # hashing, not sorting: dense actor numbers
    uniq = coded.dictionary.to_numpy()
    ids = coded.indices.to_numpy()
    t = np.asarray(t, dtype=np.int64)
    base = int(t.min())
    span = int(t.max()) - base + 1
    if len(uniq) * span < 1 << 62:
        key = np.sort(ids.astype(np.int64) * span + (t - base))
        sid, st = key // span, key % span + base
    else:
        order = np.lexsort((t, ids))
        sid, st = ids[order], t[order]
    starts = np.flatnonzero(run_starts(sid, st))
    ends = np.append(starts[1:], n) - 1
    return uniq[sid[starts]], st[starts], st[ends], (ends - starts + 1).astype(np.int64)


def write_sessions(
    con: Any, lake: Lake, recv: date, rows_sql: str | None, chunk_rows: int = SESSION_CHUNK_ROWS
) -> None:
    """The session rollup of a received day: each actor's runs of events without a gap of more
    than 30 minutes, as (actor_hash, start_ts, end_ts, events), sorted by actor_hash then start
    (each chunk of actors apart) in row groups of SESSION_ROW_GROUP rows. Runs of several actors (one person)
    or of several received days are merged by the sessions metric (two runs belong to one session
    exactly when the later starts at most 30 minutes after the earlier ends); the 24-hour cut is
    applied there too, as it depends on where the merged session starts."""
    target = lake.sessions_file(recv)
    if rows_sql is None:
        target.unlink(missing_ok=True)
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Bounded memory: the actors are split into chunks of about ``chunk_rows`` events by their hash
    # (an actor's runs never span two chunks), so a 20M-event day is never all in numpy at once.
    row = con.execute(f"SELECT count(*) FROM ({rows_sql}) WHERE actor IS NOT NULL").fetchone()
    chunks = max(1, -(-int(row[0] if row else 0) // chunk_rows))
    stamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [("actor_hash", pa.uint64()), ("start_ts", stamp), ("end_ts", stamp), ("events", pa.int64())]
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    keys = f"SELECT hash(actor) AS h, epoch_us(ts) AS t FROM ({rows_sql}) WHERE actor IS NOT NULL"
    if chunks > 1:  # hash each actor once, not once per chunk (16 bytes an event, spilled if need be)
        con.execute(f"CREATE OR REPLACE TEMP TABLE hw_session_keys AS {keys}")
        keys = "SELECT h, t FROM hw_session_keys WHERE true"
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for k in range(chunks):
            part = f"AND h % {chunks} = {k}" if chunks > 1 else ""
            cols = con.execute(f"{keys} {part}").fetchnumpy()
            h, start, end, events = gap_segments(cols["h"], cols["t"])
            order = np.lexsort((start, h))  # by actor, then start (SESSION_ROW_GROUP)
            writer.write_table(
                pa.table(
                    [
                        pa.array(h[order], pa.uint64()),
                        pa.array(start[order], pa.int64()).cast(stamp),
                        pa.array(end[order], pa.int64()).cast(stamp),
                        pa.array(events[order], pa.int64()),
                    ],
                    schema=schema,
                ),
                row_group_size=SESSION_ROW_GROUP,
            )
    if chunks > 1:
        con.execute("DROP TABLE hw_session_keys")
    tmp.replace(target)


def backfill_sessions(con: Any, lake: Lake) -> list[date]:
    """The session rollup of received days loaded before it existed."""
    return backfill(con, lake, lake.sessions_file, write_sessions)
