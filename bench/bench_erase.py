"""Erasing one person from the event log in place (issue 17): events/s and GB/s scanned.

Target: one person out of 50 million events (~25 GB of log) in a few minutes on this machine's 2
shared cores. The log: ``--events`` realistic lines (~750 bytes, the collector's shape) over
``--days`` received days and ``--writers`` writers, plus a quarantine file a day; one person has
``--person`` of them (a user id and two anonymous ids: three ids to look for, as a deletion
expanded to the person's linked ids has), spread over every file. Three runs:

  erase      the person's lines blanked (worker processes, a core each, on a log this big)
  again      the same: nothing left to erase (every chunk searched, no line parsed)
  one core   the same with a single process, for the cost per core

The files were just written, so they are read from the page cache: a cold read is bounded by the
disk instead. Printed: events/s and GB/s scanned, CPU seconds (with the workers), and the load
average before and after (the cores are shared with whatever else runs).

    .venv/bin/python bench/bench_erase.py [--events 2000000] [--days 20] [--data NEW_DIR (kept)]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from headwater.log import erase  # noqa: E402
from headwater.log.erase import erase_from_log  # noqa: E402

DAY0 = date(2026, 1, 5)
TARGET_SECONDS_FOR_50M = 300
PERSON = ("user-erase-me-0042", "anon-5f0c2a9e-erase", "anon-77d1b3c4-erase")
MAX_PROCESSES_DEFAULT = erase.MAX_PROCESSES
#: (userId, anonymousId) of the person's events: identified, and before identify on another device
FORMS = [(PERSON[0], PERSON[1]), ("", PERSON[2]), (PERSON[0], PERSON[2])]
EVENTS = ["Document Edited", "Searched", "Message Sent", "Formula Added", "Chart Created", "AI Prompted"]


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def line(i: int, day: date, user: str, anon: str, rng: random.Random) -> str:
    sec = rng.randrange(86_400)
    clock = f"{day}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{i % 1000:03d}Z"
    name = EVENTS[i % len(EVENTS)]
    tool = name.split()[0].lower()
    return (
        f'{{"type":"track","event":"{name}","userId":"{user}","anonymousId":"{anon}",'
        f'"messageId":"m-{i:09d}","timestamp":"{clock}","originalTimestamp":"{clock}","sentAt":"{clock}",'
        f'"properties":{{"tool_id":"{tool}","app":"docs","plan":"pro","n":{i},"path":"/d/{i % 977}"}},'
        f'"context":{{"library":{{"name":"analytics.js","version":"5.2.0"}},"locale":"en-US",'
        f'"page":{{"path":"/d/{i % 977}","title":"Doc","url":"https://app.example.com/d/{i % 977}"}},'
        f'"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36",'
        f'"ip":"203.0.113.0"}},"receivedAt":"{clock}",'
        f'"_hw":{{"source":"bench","event_type":"{name}","tool_id":"{tool}",'
        f'"ua":{{"browser":"Chrome","os":"Linux"}},"bot":false}}}}\n'
    )


def build(log_dir: Path, events: int, days: int, writers: int, person: int) -> int:
    """Write the log; the number of the person's events."""
    rng = random.Random(17)
    log_dir.mkdir(parents=True, exist_ok=True)
    files = days * writers
    per_file = events // files
    mine = 0
    i = 0
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        for w in range(writers):
            chunk: list[str] = []
            with open(log_dir / f"events-{day:%Y%m%d}.w{w}.jsonl", "w") as fh:
                for _ in range(per_file):
                    if rng.random() < person / events:
                        user, anon = rng.choice(FORMS)
                        mine += 1
                    else:
                        n = rng.randrange(200_000)
                        user, anon = f"user-{n:06d}", f"anon-{n:06d}"
                    text = line(i, day, user, anon, rng)
                    chunk.append(text.replace('"userId":"",', "") if not user else text)
                    i += 1
                    if len(chunk) >= 10_000:
                        fh.write("".join(chunk))
                        chunk = []
                fh.write("".join(chunk))
        with open(log_dir / f"quarantine-{day:%Y%m%d}.w0.jsonl", "w") as fh:
            for q in range(50):
                user = PERSON[0] if q == 0 else f"user-q{q}"
                body = json.dumps({"type": "track", "userId": user, "event": ""})
                fh.write(json.dumps({"reason": "not JSON", "code": "bad_json", "body": body}) + "\n")
                mine += q == 0
    return mine


def run(log_dir: Path, events: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    loadavg_before = load()
    started = time.monotonic()
    report = erase_from_log(log_dir, PERSON)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(a.ru_utime + a.ru_stime - (b.ru_utime + b.ru_stime) for a, b in zip(after, before, strict=True))
    return {
        **report.as_dict(),
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "gb_per_s": round(report.bytes_scanned / seconds / 1e9, 2),
        "cpu_s": round(cpu, 2),
        "projected_50m_s": round(seconds * 50_000_000 / events),
        "loadavg_before": loadavg_before,
        "loadavg": load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--person", type=int, default=1000, help="the person's events")
    ap.add_argument("--data", type=Path, default=None, help="a new directory: the log is built there, kept")
    args = ap.parse_args()
    say(f"machine: {len(os.sched_getaffinity(0))} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-erase-"))
    log_dir = (args.data or work) / "log"
    if log_dir.exists():
        raise SystemExit(f"{log_dir} exists: give a new directory")
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        say(f"building {args.events:,} events over {args.days} days x {args.writers} writers ...")
        t = time.monotonic()
        report["person_lines"] = mine = build(log_dir, args.events, args.days, args.writers, args.person)
        size = sum(p.stat().st_size for p in log_dir.iterdir())
        report["log_bytes"] = size
        say(f"  {size / 1e9:.2f} GB written in {time.monotonic() - t:.1f} s; the person has {mine} lines")
        runs = {"erase": MAX_PROCESSES_DEFAULT, "again": MAX_PROCESSES_DEFAULT, "one core": 1}
        for name, processes in runs.items():
            erase.MAX_PROCESSES = processes
            report[name] = figures = run(log_dir, args.events)
            verdict = "ok" if figures["projected_50m_s"] <= TARGET_SECONDS_FOR_50M else "BELOW TARGET"
            say(
                f"  {name:<9} {figures['lines_erased']:>6} lines erased"
                f" in {figures['files_changed']:>3} files"
                f" {figures['seconds']:7.2f} s {figures['events_per_s']:>11,} events/s"
                f" {figures['gb_per_s']:6.2f} GB/s  CPU {figures['cpu_s']:6.2f} s"
                f"  50M events: ~{figures['projected_50m_s']} s  load {figures['loadavg']}  {verdict}"
            )
        erase.MAX_PROCESSES = MAX_PROCESSES_DEFAULT
        if report["erase"]["lines_erased"] != mine or report["again"]["lines_erased"] != 0:
            raise SystemExit(
                f"wrong count: {mine} lines of the person, {report['erase']['lines_erased']} erased"
            )
    finally:
        if args.data is None:
            shutil.rmtree(work, ignore_errors=True)
    report["loadavg_after"] = load()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "log_erase.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
