"""Paths benchmark (issue 19, item 4): paths of 5 steps over a lake of ``--events`` events (the
target: under 3 s over 50M events in 90 days, on this machine's 2 shared cores).

The data: bench_lake_erase.py's lake (``--events`` log lines of 50,000 users over ``--days`` received
days, six event names, loaded by the daily ETL, every month but the last compacted), built once and
kept with ``--data DIR`` (bench_insights.py's lake is the same: pass its directory). Every user does
every event, so the anchor is done by nearly everyone and the window runs over nearly every event of
the range: the worst case for the query. The queries, each run ``--repeat`` times (the median is
reported, with the load average around it):

  next       5 steps after each person's first "Searched", whole range, limit 5
  previous   5 steps before it
  session    5 steps after it, within its session (30 minutes of inactivity)
  filtered   5 steps after it, filter event:app=docs and limit 20

The first three are walked over the ETL's (event, person hash, time, tie) rollup (insights/paths_walk.py);
the filtered one reads the events' JSON.

    .venv/bin/python bench/bench_paths.py [--events 2000000] [--days 90] [--data DIR] [--repeat 3]
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
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lake_erase import DAY0, EVENTS, build, lake_events  # noqa: E402
from headwater.insights.paths import run_paths  # noqa: E402

TARGET_EVENTS = 50_000_000
TARGET_SECONDS = 3.0


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def queries(days: int) -> dict[str, dict[str, Any]]:
    start, end = DAY0.isoformat(), (DAY0 + timedelta(days=days - 1)).isoformat()
    common = {"start": start, "end": end, "tz": "UTC", "event": EVENTS[1], "steps": 5}
    return {
        "next": {**common},
        "previous": {**common, "direction": "previous"},
        "session": {**common, "session_scoped": True},
        "filtered": {
            **common,
            "limit": 20,
            "filters": [{"type": "event", "name": "app", "op": "eq", "value": "docs"}],
        },
    }


def timed(data: Path, body: dict[str, Any], repeat: int) -> dict[str, Any]:
    seconds = []
    before = load()
    answer: dict[str, Any] = {}
    for _ in range(repeat):
        t = time.monotonic()
        answer = run_paths(data, "UTC", body)
        seconds.append(time.monotonic() - t)
    return {
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "anchor_users": answer["anchor"]["users"],
        "nodes": sum(len(s["nodes"]) for s in answer["steps"]),
        "loadavg_before": before,
        "loadavg_after": load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="run only these queries (next, previous ...)")
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-paths-"))
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
        for name, body in queries(args.days).items():
            if args.only and name not in args.only:
                continue
            figures = report[name] = timed(data, body, args.repeat)
            per_second = events / figures["median_s"] if figures["median_s"] else 0.0
            at_target = TARGET_EVENTS / per_second if per_second else 0.0
            figures["events_per_s"] = round(per_second)
            figures["linear_at_50M_s"] = round(at_target, 1)
            say(
                f"  {name:<9} {figures['median_s']:7.3f} s (runs {figures['runs_s']})"
                f"  anchor {figures['anchor_users']:,} people, {figures['nodes']} nodes"
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
    (results / "paths.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
