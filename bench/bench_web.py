"""Web analytics benchmark (issue 19): POST /api/v1/insights/web over a lake of ``--events`` events
(the target: the summary under 1 s over 50M events in 90 days, on this machine's 2 shared cores).

The data: bench_lake_erase.py's lake (its track events of 50,000 users over ``--days`` received days,
loaded by the daily ETL, every month but the last compacted into an archive; bench_insights.py
builds the same), of which ``--page-share`` are page events instead, as analytics.js sends them
(``context.page`` with path, referrer and URL, a user agent among six, UTM on a tenth), in visits of
1 to 6 pageviews 10 seconds to 10 minutes apart. Built once and kept with ``--data DIR``. The
queries, each run ``--repeat`` times (the median is reported, with the load average around it):

  summary   the summary alone over the whole range ("lists": []: what the page draws first)
  all       the whole answer over the whole range (summary, 12 lists), no filter
  filtered  the same, filter derived:path contains "/d/1" (filters pick pageviews)
  week      the last 7 days, with compare

    .venv/bin/python bench/bench_web.py [--events 2000000] [--days 90] [--data DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lake_erase import DAY0, USERS, line  # noqa: E402
from headwater.batch.archive import archive_month  # noqa: E402
from headwater.batch.etl import run_daily  # noqa: E402
from headwater.insights.web import run_web  # noqa: E402

TARGET_EVENTS = 50_000_000
TARGET_SECONDS = 1.0
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Safari/605.1.15",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1",
]
REFERRERS = ["", "", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x", "SITE"]
SITE = "https://docs.example"


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def visit(i: int, day: date, rng: random.Random) -> list[str]:
    """The log lines of one visit: 1 to 6 page events of one user, 10 s to 10 min apart."""
    user = rng.randrange(USERS)
    who = f'"anonymousId":"anon-{user:06d}"'
    if rng.random() >= 0.05:
        who = f'"userId":"user-{user:06d}",' + who
    agent = AGENTS[user % len(AGENTS)]
    sec = rng.randrange(86_400 - 3_600)
    referrer = rng.choice(REFERRERS).replace("SITE", SITE + "/")
    campaign = ""
    if rng.random() < 0.1:
        campaign = f'"campaign":{{"source":"news{user % 7}","medium":"email","name":"c{i % 13}"}},'
    out = []
    for k in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
        path = f"/d/{rng.randrange(977)}"
        clock = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{k:03d}"
        page = f'"path":"{path}","referrer":"{referrer}","url":"{SITE}{path}","title":"Doc"'
        out.append(
            f'{{"type":"page","name":"Doc",{who},"messageId":"p-{i:09d}-{k}","timestamp":"{day}T{clock}Z",'
            f'"properties":{{{page}}},'
            f'"context":{{"library":{{"name":"analytics.js","version":"5.2.0"}},"locale":"en-US",'
            f'"page":{{{page}}},{campaign}"userAgent":"{agent}","ip":"203.0.113.0"}},'
            f'"receivedAt":"{day}T{clock}Z",'
            f'"_hw":{{"source":"bench","event_type":"page","bot":false}}}}\n'
        )
        referrer = f"{SITE}{path}"
        sec += rng.randrange(10, 600)
    return out


def build(data: Path, events: int, days: int, page_share: float) -> None:
    """Write the log a day at a time, load each day, archive every month but the last."""
    rng = random.Random(11)
    log = data / "log"
    log.mkdir(parents=True, exist_ok=True)
    per_day = events // days
    i = 0
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        written = 0
        with open(log / f"events-{day:%Y%m%d}.bench.jsonl", "w") as fh:
            while written < per_day:
                lines = visit(i, day, rng) if rng.random() < page_share else [line(i, day, rng)]
                fh.writelines(lines)
                written += len(lines)
                i += 1
        run_daily(data, day, "UTC")
    last = DAY0 + timedelta(days=days - 1)
    month = (DAY0.year, DAY0.month)
    while month < (last.year, last.month):
        archive_month(data, *month)
        month = (month[0] + month[1] // 12, month[1] % 12 + 1)


def queries(days: int) -> dict[str, dict[str, Any]]:
    start, end = DAY0.isoformat(), (DAY0 + timedelta(days=days - 1)).isoformat()
    week = (DAY0 + timedelta(days=days - 7)).isoformat()
    return {
        "summary": {"start": start, "end": end, "tz": "UTC", "lists": []},
        "all": {"start": start, "end": end, "tz": "UTC"},
        "filtered": {
            "start": start,
            "end": end,
            "tz": "UTC",
            "filters": [{"type": "derived", "name": "path", "op": "contains", "value": "/d/1"}],
        },
        "week": {"start": week, "end": end, "tz": "UTC", "compare": True},
    }


def timed(data: Path, body: dict[str, Any], repeat: int) -> dict[str, Any]:
    seconds = []
    before = load()
    answer: dict[str, Any] = {}
    for _ in range(repeat):
        t = time.monotonic()
        answer = run_web(data, "UTC", body)
        seconds.append(time.monotonic() - t)
    return {
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "summary": answer["summary"],
        "loadavg_before": before,
        "loadavg_after": load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--page-share", type=float, default=0.1, help="share of visits among the log's entries")
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-web-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        if not (data / "lake").is_dir():
            say(f"building {args.events:,} events over {args.days} received days ...")
            t = time.monotonic()
            build(data, args.events, args.days, args.page_share)
            report["build_s"] = round(time.monotonic() - t, 1)
            say(f"  loaded and archived in {report['build_s']} s")
        events, pages = _lake_events(data)  # a reused --data lake may differ from --events
        report["events"], report["page_events"] = events, pages
        say(f"  {events:,} events in the lake, {pages:,} of them page events")
        for name, body in queries(args.days).items():
            figures = report[name] = timed(data, body, args.repeat)
            per_second = events / figures["median_s"] if figures["median_s"] else 0.0
            figures["events_per_s"] = round(per_second)
            figures["linear_at_50M_s"] = round(TARGET_EVENTS / per_second, 1) if per_second else None
            say(
                f"  {name:<9} {figures['median_s']:7.3f} s (runs {figures['runs_s']})"
                f"  visits {figures['summary']['visits']:,}, pageviews {figures['summary']['pageviews']:,}"
                f"  (linear at 50M: {figures['linear_at_50M_s']} s, target {TARGET_SECONDS} s)"
                f"  load {figures['loadavg_before']} -> {figures['loadavg_after']}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # with --data, the data is elsewhere and kept
    report["loadavg_after"] = load()
    report["measured_on"] = date.today().isoformat()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "web.json").write_text(json.dumps(report, indent=2, default=str))


def _lake_events(data: Path) -> tuple[int, int]:
    from headwater.lake.layout import Lake
    from headwater.lake.sql import connect, parquet_sql

    con = connect()
    try:
        files = Lake(data / "lake").event_files()
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE type = 'page') FROM ({parquet_sql(files, 'type')})"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
    finally:
        con.close()


if __name__ == "__main__":
    main()
