"""Insights benchmark (issue 19): a trend with one filter and one breakdown over a lake of ``--events``
events (the target: under 1 s over 50M events in 90 days, on this machine's 2 shared cores).

The data: bench_lake_erase.py's lake (``--events`` log lines of 50,000 users over ``--days`` received
days, loaded by the daily ETL, every month but the last compacted into an archive), built once and
kept with ``--data DIR``. The trends, each run ``--repeat`` times (the median is reported, with the
load average around it):

  property  unique users per day (any event), filter event:app=docs, breakdown event:path
            (977 values: top 10 and $other)
  derived   the same, filter derived:library=analytics.js, breakdown derived:browser (columns the
            ETL writes at load, lake/derived.py; a lake loaded before them is read from the JSON)
  plain     the same without the breakdown (a dashboard's filtered "Daily users")
  range     unique users of one event over the whole range, filter event:app=docs, breakdown event:tool_id
  tools     events and unique users of one event per week, filter derived:os=Linux, breakdown
            derived:tool_id

The derived, plain and tools trends read the ETL's dimension-day rollup (insights/trend_rollup.py; the
first run over a lake loaded before it writes it for every received day: ``headwater etl daily``
does the same); the other two read event properties, so the events. ``--reference`` also times
each trend with the rollup moved aside (the events read, as before it), alternating, in the run.

    .venv/bin/python bench/bench_insights.py [--events 2000000] [--days 90] [--data DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lake_erase import DAY0, EVENTS, build, lake_events  # noqa: E402
from headwater.insights.request import parse_trend  # noqa: E402
from headwater.insights.trend import run_trend  # noqa: E402
from headwater.insights.trend_rollup import rollup_source  # noqa: E402
from headwater.lake.layout import Lake  # noqa: E402
from headwater.lake.rollups.dimension_days import backfill_dimension_days  # noqa: E402
from headwater.lake.scope import Scope  # noqa: E402
from headwater.lake.sql import connect  # noqa: E402

TARGET_EVENTS = 50_000_000
TARGET_SECONDS = 1.0


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def queries(days: int) -> dict[str, dict[str, Any]]:
    start, end = DAY0.isoformat(), (DAY0 + timedelta(days=days - 1)).isoformat()
    users = [{"event": None, "measure": "users"}]  # every event: the widest scan
    common = {"start": start, "end": end, "tz": "UTC", "limit": 10}
    return {
        "property": {
            **common,
            "interval": "day",
            "series": users,
            "filters": [{"type": "event", "name": "app", "op": "eq", "value": "docs"}],
            "breakdown": {"type": "event", "name": "path"},
        },
        "derived": {
            **common,
            "interval": "day",
            "series": users,
            "filters": [{"type": "derived", "name": "library", "op": "eq", "value": "analytics.js"}],
            "breakdown": {"type": "derived", "name": "browser"},
        },
        "plain": {
            **common,
            "interval": "day",
            "series": users,
            "filters": [{"type": "derived", "name": "library", "op": "eq", "value": "analytics.js"}],
        },
        "range": {
            **common,
            "interval": "range",
            "series": [{"event": EVENTS[0], "measure": "users"}],
            "filters": [{"type": "event", "name": "app", "op": "eq", "value": "docs"}],
            "breakdown": {"type": "event", "name": "tool_id"},
        },
        "tools": {
            **common,
            "interval": "week",
            "series": [{"event": EVENTS[0], "measure": "events"}, {"event": EVENTS[0], "measure": "users"}],
            "filters": [{"type": "derived", "name": "os", "op": "eq", "value": "Linux"}],
            "breakdown": {"type": "derived", "name": "tool_id"},
        },
    }


def reads_rollup(data: Path, body: dict[str, Any]) -> bool:
    query = parse_trend(body, "UTC")
    with Scope(data, query.rng) as scope:
        return rollup_source(scope, query, query.rng.start) is not None


def ensure_rollup(data: Path) -> None:
    """Write the dimension-day rollup of every received day that lacks it (a lake built before it)."""
    lake = Lake(data / "lake")
    con = connect(lake.tmp_dir)
    try:
        t = time.monotonic()
        done = backfill_dimension_days(con, lake)
        if done:
            say(
                f"  dimension-day rollup written for {len(done)} received days"
                f" in {time.monotonic() - t:.1f} s"
            )
    finally:
        con.close()


@contextmanager
def rollup_aside(data: Path) -> Iterator[None]:
    folder = data / "lake" / "dimension_days"
    aside = data / "lake" / ".dimension_days-aside"
    folder.rename(aside)
    try:
        yield
    finally:
        aside.rename(folder)


def timed(data: Path, body: dict[str, Any], repeat: int) -> dict[str, Any]:
    seconds = []
    before = load()
    answer: dict[str, Any] = {}
    for _ in range(repeat):
        t = time.monotonic()
        answer = run_trend(data, "UTC", body)
        seconds.append(time.monotonic() - t)
    return {
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "rows": len(answer["rows"]),
        "breakdown_values": len(answer["breakdown_values"]),
        "loadavg_before": before,
        "loadavg_after": load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--reference", action="store_true", help="also time the trends that read the rollup without it"
    )
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-insights-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        if not (data / "lake").is_dir():
            say(f"building {args.events:,} events over {args.days} received days ...")
            t = time.monotonic()
            build(data, args.events, args.days)
            report["build_s"] = round(time.monotonic() - t, 1)
            say(f"  loaded and archived in {report['build_s']} s")
        events = report["events"] = lake_events(data)  # a reused --data lake may differ from --events
        ensure_rollup(data)
        for name, body in queries(args.days).items():
            figures = report[name] = timed(data, body, args.repeat)
            figures["read"] = "rollup" if reads_rollup(data, body) else "events"
            if args.reference and figures["read"] == "rollup":
                with rollup_aside(data):
                    figures["events_read"] = timed(data, body, args.repeat)
                figures["again"] = timed(data, body, args.repeat)  # after, as the load moves
                say(
                    f"  {name:<9} reference (the events read): {figures['events_read']['median_s']:.3f} s,"
                    f" the rollup again: {figures['again']['median_s']:.3f} s"
                )
            per_second = events / figures["median_s"] if figures["median_s"] else 0.0
            at_target = TARGET_EVENTS / per_second if per_second else 0.0
            figures["events_per_s"] = round(per_second)
            figures["linear_at_50M_s"] = round(at_target, 1)
            say(
                f"  {name:<9} {figures['median_s']:7.3f} s from the {figures['read']}"
                f" (runs {figures['runs_s']})"
                f"  {figures['rows']} rows, {figures['breakdown_values']} breakdown values"
                f"  {per_second / 1e6:5.2f} M events/s (linear at 50M: {at_target:5.1f} s,"
                f" target {TARGET_SECONDS} s)  load {figures['loadavg_before']} -> {figures['loadavg_after']}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # with --data, the data is elsewhere and kept
    report["loadavg_after"] = load()
    report["measured_on"] = date.today().isoformat()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "insights.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
