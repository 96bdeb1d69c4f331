"""Batch analytics benchmark (issue 4 targets), on this machine's 2 shared cores.

  ETL      JSONL -> Parquet lake, >= 500,000 events/s, memory bounded (DuckDB memory_limit 1 GB)
  metrics  on a lake of 50M events over 90 days (100k daily users): dau, wau, mau over the 90 days
           each < 1 s; retention (12 weekly cohorts) and funnel (3 steps) < 3 s
  naive    the same metrics on a 5M-event subset, on the raw events in PostgreSQL vs. our DuckDB
           lake, and the ratio

The 50M-event lake is generated directly as Parquet (with the ETL's rollups and manifests), not
through JSONL: 50M JSON lines would be ~20 GB. The ETL figure comes from real JSONL.

    .venv/bin/python bench/bench_metrics.py [--events 50000000] [--etl-events 2000000] [--pg-events 5000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from headwater.lake.layout import Lake  # noqa: E402
from headwater.lake.rollups.event_people import backfill_event_people, write_event_people  # noqa: E402
from headwater.lake.rollups.identity import (  # noqa: E402
    write_identity_map,
)
from headwater.lake.rollups.names import update_names  # noqa: E402
from headwater.lake.rollups.person_days import missing_person_days, write_person_days  # noqa: E402
from headwater.lake.rollups.sessions import backfill_sessions, write_sessions  # noqa: E402
from headwater.lake.rollups.user_days import write_user_days  # noqa: E402
from headwater.lake.sql import connect, quote  # noqa: E402
from headwater.metrics.registry import run_metric  # noqa: E402

DAY0 = date(2026, 1, 5)  # a Monday
STEPS = "Signup,Activate,Purchase"


def say(text: str) -> None:
    print(text, flush=True)


# -- ETL --------------------------------------------------------------------------------------------
def write_jsonl(path: Path, n: int) -> int:
    """n realistic ~400-byte log lines (10% duplicates by messageId) in the collector's format."""
    rng = random.Random(1)
    tools = ["editor", "search", "export", "formula", "chart", "messages", "ai-assist"]
    size = 0
    with open(path, "w") as fh:
        for i in range(n):
            tool = tools[rng.randrange(7)]
            ev = f"{tool.title()} Used"
            user = rng.randrange(100_000)
            mid = i if rng.random() > 0.1 else max(0, i - 50)
            sec = i * 86399 // n
            clock = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
            line = (
                f'{{"type":"track","event":"{ev}","userId":"user-{user:06d}","anonymousId":"anon-{user:06d}",'
                f'"properties":{{"tool_id":"{tool}","app":"docs","theme":"dark","n":{i}}},"messageId":"m-{mid}",'
                f'"timestamp":"2026-01-05T{clock}.{i % 1000:03d}Z","receivedAt":"2026-01-05T{clock}.000Z",'
                '"context":{"ip":"203.0.113.0","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/126"},'
                f'"_hw":{{"source":"bench","bot":false,"event_type":"{ev}","tool_id":"{tool}"}}}}\n'
            )
            fh.write(line)
            size += len(line)
    return size


def bench_etl(work: Path, n: int) -> dict[str, Any]:
    data = work / "etl"
    (data / "log").mkdir(parents=True)
    size = write_jsonl(data / "log" / "events-20260105.bench.jsonl", n)
    os.sync()  # the ETL reads yesterday's files, long on disk: no writeback of them while it runs
    code = (
        "import sys, json; sys.path.insert(0, 'src');"
        "from datetime import date; from pathlib import Path; from headwater.batch.etl import run_daily;"
        f"r = run_daily(Path({str(data)!r}), date(2026, 1, 5), 'UTC', memory_limit='1GB');"
        "print(json.dumps(r.as_dict()))"
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.monotonic() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before  # the ETL process, all its threads
    rss_mb = max(before, usage.ru_maxrss) / 1024
    result = json.loads(out.stdout)
    figures = {
        "events": n,
        "jsonl_mb": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "events_per_s": round(n / seconds),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_event": round(cpu / n * 1e6, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(rss_mb),
        "rows_out": result["rows_out"],
        "duplicates": result["duplicates"],
    }
    say(f"ETL: {figures}")
    shutil.rmtree(data)
    return figures


# -- a synthetic lake --------------------------------------------------------------------------------
def build_lake(data: Path, events: int, days: int, daily_users: int) -> float:
    """Events spread evenly over `days`; each day's users are a window of the user ids that slides by
    3% a day (new users come, old ones leave), so cohorts and retention have a shape."""
    lake = Lake(data / "lake")
    per_day = events // days
    slide = daily_users * 3 // 100
    con = connect(lake.tmp_dir, "2GB")
    t = time.monotonic()
    stage = data / "stage"
    con.execute(
        f"""
        COPY (
            SELECT 'm' || i AS message_id, 'track' AS type,
                   CASE WHEN h < 50 THEN 'Signup' WHEN h < 80 THEN 'Activate' WHEN h < 90 THEN 'Purchase'
                        ELSE 'Tool Used' END AS event,
                   'tool-' || (h % 12) AS tool_id, 'u' || u AS user_id, NULL::VARCHAR AS anonymous_id,
                   NULL::VARCHAR AS previous_id,
                   CASE WHEN h % 20 = 0 THEN 'anon:a' || u ELSE 'u' || u END AS actor,
                   TIMESTAMPTZ '{DAY0} 00:00:00+00' + INTERVAL (d) DAY + INTERVAL (i % 86400) SECOND AS ts,
                   TIMESTAMPTZ '{DAY0} 00:00:00+00' + INTERVAL (d) DAY AS received_at,
                   'bench' AS source, false AS bot, '{{"plan":"free"}}'::JSON AS properties,
                   NULL::JSON AS traits, NULL::JSON AS context, DATE '{DAY0}' + d::INTEGER AS recv_day,
                   strftime(DATE '{DAY0}' + d::INTEGER, '%Y-%m-%d') AS date
            FROM (
                SELECT i, i // {per_day} AS d, hash(i) % 1000 AS h,
                       (i // {per_day}) * {slide} + hash(i * 7 + 1) % {daily_users} AS u
                FROM range({per_day * days}) t(i)
            )
        ) TO {quote(str(stage))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))
        """
    )
    for part in sorted(stage.iterdir()):
        day = date.fromisoformat(part.name[5:])
        target = lake.date_dir(day)
        target.mkdir(parents=True, exist_ok=True)
        for k, f in enumerate(sorted(part.glob("*.parquet"))):
            os.replace(f, target / f"recv-{day:%Y%m%d}{'' if k == 0 else f'.{k}'}.parquet")
        files = lake.files_of_received_day(day)
        rows = " UNION ALL ".join(f"SELECT * FROM '{f}'" for f in files)
        write_user_days(con, lake, day, rows, "UTC")
        write_event_people(con, lake, day, rows)
        write_sessions(con, lake, day, rows)
        lake.write_manifest(day, {"files": {}, "project_tz": "UTC", "event_dates": [day.isoformat()]})
    top = (days - 1) * slide + daily_users
    write_identity_map(lake.identity_map, ((f"anon:a{u}", f"u{u}") for u in range(top)))
    update_names(con, lake, [DAY0 + timedelta(days=d) for d in range(days)])
    write_person_days(con, lake, [DAY0 + timedelta(days=d) for d in range(days)])
    shutil.rmtree(stage, ignore_errors=True)
    con.close()
    return time.monotonic() - t


def backfill(data: Path) -> None:
    """Give a reused lake built before a rollup (compact person days, event people, sessions) its
    files, as the ETL would."""
    lake = Lake(data / "lake")
    todo = missing_person_days(lake)
    con = connect(lake.tmp_dir, "1GB")
    if todo:
        t = time.monotonic()
        write_person_days(con, lake, todo)
        say(f"  compact person-day rollup of {len(todo)} days written in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    done = backfill_event_people(con, lake)
    if done:
        say(f"  event-people rollup of {len(done)} days written in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    done = backfill_sessions(con, lake)
    if done:
        say(f"  session rollup of {len(done)} days written in {time.monotonic() - t:.1f} s")
    con.close()


def time_metric(
    data: Path, name: str, start: date, end: date, **options: str
) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of this process, all threads, answer)."""
    cpu = time.process_time()
    t = time.monotonic()
    out = run_metric(data, "UTC", name, start.isoformat(), end.isoformat(), "UTC", options)
    return time.monotonic() - t, time.process_time() - cpu, out


def bench_metrics(data: Path, days: int, label: str) -> dict[str, Any]:
    last = DAY0 + timedelta(days=days - 1)
    results: dict[str, Any] = {}
    for name, start, opts in [
        ("dau", DAY0, {}),
        ("wau", DAY0, {}),
        ("mau", DAY0, {}),
        ("retention", DAY0, {"period": "week"}),
        ("funnel", DAY0, {"steps": STEPS}),
    ]:
        end = DAY0 + timedelta(days=83) if name == "retention" else last
        seconds, cpu, out = time_metric(data, name, start, min(end, last), **opts)
        load = os.getloadavg()[0]
        results[name] = round(seconds, 3)
        results[f"{name}_cpu"] = round(cpu, 3)
        results[f"{name}_loadavg_1m"] = round(load, 2)
        sample = out["rows"][-1] if name in ("dau", "wau", "mau") else out["rows"][0]
        brief = {k: v for k, v in sample.items() if not isinstance(v, list)}
        say(f"  {label} {name:<9} {seconds:7.3f} s  CPU {cpu:6.3f} s  load {load:.2f}   e.g. {brief}")
    return results


# -- PostgreSQL, the naive approach -----------------------------------------------------------------
PG_QUERIES = {
    "dau": "SELECT (ts AT TIME ZONE 'UTC')::date AS d, count(DISTINCT person) FROM events GROUP BY 1",
    "wau": """SELECT g.d, count(DISTINCT e.person)
              FROM generate_series(%(a)s::date, %(b)s::date, '1 day') g(d)
              JOIN events e ON e.ts >= g.d - interval '6 days' AND e.ts < g.d + interval '1 day'
              GROUP BY 1""",
    "mau": """SELECT g.d, count(DISTINCT e.person)
              FROM generate_series(%(a)s::date, %(b)s::date, '1 day') g(d)
              JOIN events e ON e.ts >= g.d - interval '29 days' AND e.ts < g.d + interval '1 day'
              GROUP BY 1""",
    "retention": """WITH a AS (SELECT DISTINCT person, date_trunc('week', ts AT TIME ZONE 'UTC') AS w
                          FROM events),
              f AS (SELECT person, min(w) AS c FROM a GROUP BY person)
              SELECT f.c, (a.w::date - f.c::date) / 7 AS k, count(*) FROM f JOIN a USING (person)
              WHERE f.c < %(a)s::date + 84 GROUP BY 1, 2""",
    "funnel": """WITH s1 AS (SELECT person, min(ts) AS t1 FROM events WHERE event = 'Signup' GROUP BY person),
              s2 AS (SELECT s1.person, s1.t1, min(e.ts) AS t2 FROM s1 JOIN events e ON e.person = s1.person
                     AND e.event = 'Activate' AND e.ts >= s1.t1 AND e.ts <= s1.t1 + interval '14 days'
                     GROUP BY 1, 2),
              s3 AS (SELECT s2.person FROM s2 JOIN events e ON e.person = s2.person AND e.event = 'Purchase'
                     AND e.ts >= s2.t2 AND e.ts <= s2.t1 + interval '14 days' GROUP BY 1)
              SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3)""",
}


def bench_postgres(work: Path, lake_data: Path, days: int, timeout_s: int) -> dict[str, float | str]:
    import psycopg
    from tests.services import PgInstance

    csv = work / "events.csv"
    files = sorted(str(p) for p in (lake_data / "lake" / "events").glob("date=*/*.parquet"))
    con = connect(None, "1GB")
    con.execute(
        f"COPY (SELECT e.ts, e.event, coalesce(m.user_id, e.actor) AS person FROM read_parquet({files}) e "
        f"LEFT JOIN read_parquet('{lake_data / 'lake/identity/map.parquet'}') m ON m.key = e.actor) "
        f"TO '{csv}' (HEADER false)"
    )
    con.close()
    pg = PgInstance()
    pg.start()
    out: dict[str, float | str] = {}
    try:
        with psycopg.connect(pg.admin_url, autocommit=True) as db:
            db.execute("CREATE TABLE events (ts timestamptz, event text, person text)")
            t = time.monotonic()
            with db.cursor().copy("COPY events FROM STDIN (FORMAT csv)") as cp, open(csv, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
            db.execute("CREATE INDEX ON events (ts)")
            db.execute("CREATE INDEX ON events (person, event, ts)")
            db.execute("ANALYZE events")
            say(f"  postgres: loaded and indexed in {time.monotonic() - t:.1f} s")
            db.execute(f"SET statement_timeout = '{timeout_s}s'")
            params = {"a": DAY0.isoformat(), "b": (DAY0 + timedelta(days=days - 1)).isoformat()}
            for name, sql in PG_QUERIES.items():
                t = time.monotonic()
                try:
                    db.execute(sql, params).fetchall()  # type: ignore[arg-type]
                    out[name] = round(time.monotonic() - t, 3)
                except psycopg.errors.QueryCanceled:
                    out[name] = f">{timeout_s}"
                say(f"  postgres  {name:<9} {out[name]} s")
    finally:
        pg.destroy()
        csv.unlink(missing_ok=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--daily-users", type=int, default=100_000)
    ap.add_argument("--etl-events", type=int, default=2_000_000)
    ap.add_argument("--pg-events", type=int, default=5_000_000)
    ap.add_argument("--pg-timeout", type=int, default=300)
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-etl", action="store_true")
    ap.add_argument(
        "--lake", type=Path, default=None, help="a data dir built by this generator: reused, kept"
    )
    ap.add_argument(
        "--fallback",
        action="store_true",
        help="with --lake: measure a lake without the compact person-day rollup as it is (not backfilled)",
    )
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-metrics-"))
    report: dict[str, Any] = {"args": vars(args)}
    try:
        if not args.skip_etl:
            report["etl"] = bench_etl(work, args.etl_events)
        big = args.lake or work / "big"
        if not (big / "lake").is_dir():
            say(f"building a lake of {args.events:,} events over {args.days} days ...")
            report["lake_build_s"] = round(build_lake(big, args.events, args.days, args.daily_users), 1)
            say(f"  built in {report['lake_build_s']} s")
        elif args.fallback:
            say("  without the compact person-day rollup (the path of lakes built before it)")
        else:
            backfill(big)
        report["metrics_50m"] = bench_metrics(big, args.days, "lake")
        if args.lake is None:
            shutil.rmtree(big)
        if not args.skip_pg:
            small = work / "small"
            build_lake(small, args.pg_events, args.days, args.daily_users // 10)
            say(f"same metrics on {args.pg_events:,} events: our lake vs. raw events in PostgreSQL")
            ours = bench_metrics(small, args.days, "lake")
            theirs = bench_postgres(work, small, args.days, args.pg_timeout)
            report["subset"] = {"duckdb_lake": ours, "postgres_naive": theirs}
            for name in PG_QUERIES:
                s = ours[name]
                pg = theirs.get(name)
                ratio = f"{pg / s:.0f}x" if isinstance(pg, float) and s else f"> {args.pg_timeout / s:.0f}x"
                say(f"  ratio {name:<9} postgres/lake = {ratio}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["loadavg_after"] = os.getloadavg()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "metrics.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
