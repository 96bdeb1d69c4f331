"""Lake erase benchmark (issue 17): erase one person from a lake of ``--events`` events.

The data: ``--events`` log lines (~600 bytes: context, properties) of 50,000 users received over
``--days`` days (5 % anonymous only, 2 % late by 1-3 days), loaded by the daily ETL, every month
but the last compacted into a monthly archive. One person (a user with about the average number of
events, their anonymous id linked to them) is erased; the figures: seconds, files scanned and
rewritten, rows removed, the load average; then the same again (nothing left: scanning only), and
an id the lake has never seen.

    .venv/bin/python bench/bench_lake_erase.py [--events 2000000] [--days 90] [--data DIR (kept)]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from headwater.batch.archive import archive_month  # noqa: E402
from headwater.batch.etl import run_daily  # noqa: E402
from headwater.lake.erase import erase_from_lake  # noqa: E402
from headwater.lake.layout import Lake  # noqa: E402

DAY0 = date(2026, 1, 1)
USERS = 50_000
PERSON = 12_345
EVENTS = ["Document Edited", "Searched", "Message Sent", "Formula Added", "Chart Created", "AI Prompted"]


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def line(i: int, day: date, rng: random.Random) -> str:
    user = rng.randrange(USERS)
    sec = rng.randrange(86_400)
    late = rng.randrange(1, 4) if rng.random() < 0.02 and day > DAY0 + timedelta(days=3) else 0
    clock = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{i % 1000:03d}"
    when = (day - timedelta(days=late)).isoformat()
    name = EVENTS[i % len(EVENTS)]
    tool = name.split()[0].lower()
    who = f'"anonymousId":"anon-{user:06d}"'
    if rng.random() >= 0.05:
        who = f'"userId":"user-{user:06d}",' + who
    return (
        f'{{"type":"track","event":"{name}",{who},"messageId":"m-{i:09d}","timestamp":"{when}T{clock}Z",'
        f'"properties":{{"tool_id":"{tool}","app":"docs","n":{i},"path":"/d/{i % 977}"}},'
        f'"context":{{"library":{{"name":"analytics.js","version":"5.2.0"}},"locale":"en-US",'
        f'"userAgent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/126","ip":"203.0.113.0"}},'
        f'"receivedAt":"{day}T{clock}Z",'
        f'"_hw":{{"source":"bench","event_type":"{name}","tool_id":"{tool}","bot":false}}}}\n'
    )


def build(data: Path, events: int, days: int) -> None:
    """Write the log a day at a time, load each day, archive every month but the last."""
    rng = random.Random(11)
    log = data / "log"
    log.mkdir(parents=True, exist_ok=True)
    per_day = events // days
    i = 0
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        with open(log / f"events-{day:%Y%m%d}.bench.jsonl", "w") as fh:
            for _ in range(per_day):
                fh.write(line(i, day, rng))
                i += 1
        run_daily(data, day, "UTC")
    last = DAY0 + timedelta(days=days - 1)
    month = (DAY0.year, DAY0.month)
    while month < (last.year, last.month):
        archive_month(data, *month)
        month = (month[0] + month[1] // 12, month[1] % 12 + 1)


def lake_events(data: Path) -> int:
    """The events of a built lake: what a reused ``--data`` lake holds, whatever ``--events`` says."""
    from headwater.lake.sql import connect, parquet_sql

    con = connect()
    try:
        files = Lake(data / "lake").event_files()
        row = (
            con.execute(f"SELECT count(*) FROM ({parquet_sql(files, 'type')})").fetchone() if files else None
        )
        return int(row[0]) if row else 0
    finally:
        con.close()


def erase(lake: Lake, ids: list[str]) -> dict[str, Any]:
    before = load()
    cpu = time.process_time()
    report = erase_from_lake(lake, ids).as_dict()
    report["cpu_s"] = round(time.process_time() - cpu, 2)
    report["loadavg_before"], report["loadavg_after"] = before, load()
    report["event_dates"] = len(report["event_dates"])
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-erase-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        if not (data / "lake").is_dir():
            say(f"building {args.events:,} events over {args.days} received days ...")
            t = time.monotonic()
            build(data, args.events, args.days)
            report["build_s"] = round(time.monotonic() - t, 1)
            say(f"  loaded and archived in {report['build_s']} s")
        # Erase a copy: --data stays as built, for the next run.
        target = work / "erased"
        shutil.copytree(data / "lake", target / "lake")
        lake = Lake(target / "lake")
        ids = [f"user-{PERSON:06d}"]  # their anonymous id comes from the lake's identity map
        for name, who in (("erase", ids), ("again", ids), ("unknown", ["nobody-ever"])):
            figures = report[name] = erase(lake, who)
            say(
                f"  {name:<8} {figures['seconds']:7.2f} s (CPU {figures['cpu_s']:6.2f} s)"
                f"  files scanned {figures['files_scanned']:>5}  rewritten {figures['files_rewritten']:>4}"
                f"  rows removed {figures['rows_removed']:>5}  dates {figures['event_dates']:>3}"
                f"  load {figures['loadavg_before']} -> {figures['loadavg_after']}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # with --data, the data is elsewhere and kept
    report["loadavg_after"] = load()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "lake_erase.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
