"""People benchmark (issue 19, item 5): a person's timeline, profile and search, and the latest
events, over a lake of ``--events`` events (bench_lake_erase.py's data: 50,000 users over 90
received days, every month but the last compacted into an archive).

Figures, in milliseconds, for several people (users with the average number of events, and an id
nobody has): resolving the person; the first page of their timeline (``--limit``, default 100;
and of 10); the next page through the cursor; a page of the events before the 51st day (inside
an archived month: ``archived_page``); the profile; then a search by id prefix and the
latest 50 events (and a filtered 50); and the search of a day of log for one person's lines (what
a timeline reads of the log the lake does not hold yet). Each is timed ``--repeat`` times in one
process after a first call (the cold figure: DuckDB loaded, files first read); the median and the worst are
printed, with the median CPU time (the work, whatever else the machine runs) and the load
average. For comparison, the same page read by a plain scan of every event file of the lake (what
a timeline costs without the rollups to find the files).

    .venv/bin/python bench/bench_people.py [--events 2000000] [--days 90] [--data DIR (kept)]
        [--limit 100] [--repeat 5] [--out bench/results/people.json]
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lake_erase import DAY0, build  # noqa: E402
from headwater.lake.erase_files import read_sql  # noqa: E402
from headwater.lake.sql import EVENT_COLUMNS, quote  # noqa: E402
from headwater.log.erase_match import Matcher  # noqa: E402
from headwater.people.latest import Filters, latest  # noqa: E402
from headwater.people.person import Person, resolve_person  # noqa: E402
from headwater.people.profile import profile  # noqa: E402
from headwater.people.search import search  # noqa: E402
from headwater.people.sources import Reading, Sources  # noqa: E402
from headwater.people.timeline import decode_cursor, timeline  # noqa: E402
from headwater.people.unloaded import matching_lines  # noqa: E402

PEOPLE = ["user-012345", "anon-000777", "user-049999", "nobody-ever"]
#: a page of events before this day (UTC): inside an archived month (every month but the last is)
ARCHIVED_BEFORE = DAY0 + timedelta(days=50)


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def timed(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, float], Any]:
    """(figures, last answer): the first call, then the median and worst of ``repeat`` more, in
    wall-clock milliseconds, and the median CPU time of this process (DuckDB's threads included:
    the work done, whatever else the machine runs)."""
    start = time.perf_counter()
    answer = fn()
    cold = (time.perf_counter() - start) * 1000
    runs, cpu = [], []
    for _ in range(repeat):
        start, used = time.perf_counter(), time.process_time()
        answer = fn()
        runs.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    figures = {
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(runs), 1),
        "max_ms": round(max(runs), 1),
        "cpu_ms": round(statistics.median(cpu), 1),
    }
    return figures, answer


def full_scan(reading: Reading, person: Person, limit: int) -> list[Any]:
    """The first page by a scan of every event file (no rollup): the baseline."""
    files = reading.lake.event_files()
    names = ", ".join(quote(n) for n in sorted(person.names))
    return list(
        reading.con.execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM {read_sql(files)} WHERE actor IN ({names})"
            f" ORDER BY ts DESC, message_id DESC LIMIT {int(limit)}"
        ).fetchall()
    )


def bench_person(data: Path, who: str, limit: int, repeat: int) -> dict[str, Any]:
    sources = Sources(data, f"sqlite:///{data / 'realtime.sqlite3'}", migrate=True)
    out: dict[str, Any] = {"id": who}
    with Reading(sources) as reading:
        out["resolve"], person = timed(lambda: resolve_person(reading, who), repeat)
        out["timeline"], page = timed(lambda: timeline(reading, person, limit), repeat)
        out["events_in_page"] = len(page["events"])
        out["timeline_10"], small = timed(lambda: timeline(reading, person, 10), repeat)
        if small["next"]:
            cursor = decode_cursor(small["next"])
            out["next_page_10"], _ = timed(lambda: timeline(reading, person, 10, cursor), repeat)
        archived = (datetime.combine(ARCHIVED_BEFORE, datetime.min.time(), UTC), "")
        out["archived_page"], old = timed(lambda: timeline(reading, person, limit, archived), repeat)
        out["events_in_archived_page"] = len(old["events"])
        out["profile"], body = timed(lambda: profile(reading, who), repeat)
        out["events_total"] = body["events"] if body else 0
        out["full_scan_page"], rows = timed(lambda: full_scan(reading, person, limit), max(1, repeat // 2))
        assert len(rows) == len(page["events"]), (len(rows), len(page["events"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--limit", type=int, default=100, help="events per timeline page")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "people.json")
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-people-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "loadavg_before": load()}
    try:
        if not (data / "lake").is_dir():
            say(f"building {args.events:,} events over {args.days} received days ...")
            t = time.monotonic()
            build(data, args.events, args.days)
            report["build_s"] = round(time.monotonic() - t, 1)
            say(f"  loaded and archived in {report['build_s']} s")
        report["lake_events"] = args.events
        report["people"] = []
        for who in PEOPLE:
            figures = bench_person(data, who, args.limit, args.repeat)
            report["people"].append(figures)
            say(
                f"  {who:<12} events {figures['events_total']:>6}"
                + "".join(
                    f"  {name} {figures[name]['median_ms']:.0f} ms (cold {figures[name]['cold_ms']:.0f}, max"
                    f" {figures[name]['max_ms']:.0f}, cpu {figures[name]['cpu_ms']:.0f})"
                    for name in (
                        "resolve",
                        "timeline",
                        "timeline_10",
                        "next_page_10",
                        "archived_page",
                        "profile",
                        "full_scan_page",
                    )
                    if name in figures
                )
                + f"  load {load()}"
            )
        sources = Sources(data, f"sqlite:///{data / 'realtime.sqlite3'}", migrate=True)
        with Reading(sources) as reading:
            report["search_prefix"], found = timed(lambda: search(reading, "user-0123"), args.repeat)
            report["search_trait"], _ = timed(lambda: search(reading, "pro", "plan"), args.repeat)
        say(f"  search 'user-0123': {report['search_prefix']} ({len(found['people'])} people)")
        say(f"  search trait plan=pro: {report['search_trait']}")
        log_dir = data / "log"
        newest = max(log_dir.glob("events-*.jsonl"))
        matcher = Matcher(["user-012345", "anon-012345"])
        report["log_day_search"], _ = timed(lambda: list(matching_lines(newest, 0, matcher)), args.repeat)
        report["log_day_bytes"] = newest.stat().st_size
        say(
            f"  one person's lines in a day of log not loaded yet ({newest.stat().st_size / 1e6:.0f} MB):"
            f" {report['log_day_search']}"
        )
        report["latest_50"], _ = timed(lambda: latest(log_dir, 50), args.repeat)
        report["latest_50_user"], body = timed(
            lambda: latest(log_dir, 50, Filters(user="user-000001")), args.repeat
        )
        say(f"  latest 50: {report['latest_50']}")
        say(
            f"  latest 50 of one user: {report['latest_50_user']} ({len(body['events'])} found in"
            f" {body['scanned_bytes'] / 1e6:.0f} MB, complete: {body['complete']})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # with --data, the data is elsewhere and kept
    report["loadavg_after"] = load()
    say(f"load average after: {report['loadavg_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
