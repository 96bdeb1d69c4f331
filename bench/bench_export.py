"""Export benchmark (issue 16 target), on this machine's 2 shared cores.

  export   `headwater export events` of every day, >= 200,000 events/s, peak RSS < 300 MB whatever
           the range (the CLI process, measured by the kernel: wait4's ru_maxrss; and the CLI with
           its worker processes, sampled), per format; CPU includes the workers
  http     GET /api/v1/export/events of the same days (NDJSON), streamed to a client that counts
           lines, and the server worker's peak RSS

The data: ``--events`` realistic log lines (~750 bytes: context with library, page, user agent;
properties; sentAt, integrations) received over ``--days`` days, 3% late events and 2% retries
(some across received days), loaded into the lake by the daily ETL but for the last received day,
left in the log as today's is (the export reads it through the metrics' pending table).

    .venv/bin/python bench/bench_export.py [--events 2000000] [--days 20] [--data DIR (kept)]
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

from headwater.batch.etl import run_daily  # noqa: E402

DAY0 = date(2026, 1, 5)
TARGET_EVENTS_PER_S = 200_000
TARGET_RSS_MB = 300
EVENTS = ["Document Edited", "Searched", "Message Sent", "Formula Added", "Chart Created", "AI Prompted"]


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def line(i: int, day: date, rng: random.Random, mid: str | None = None, late: int = 0) -> str:
    user = rng.randrange(50_000)
    sec = rng.randrange(86_400)
    clock = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{i % 1000:03d}"
    when = (day - timedelta(days=late)).isoformat()
    name = EVENTS[i % len(EVENTS)]
    tool = name.split()[0].lower()
    integrations = ',"integrations":{"All":true,"Mixpanel":false}' if i % 10 == 0 else ""
    return (
        f'{{"type":"track","event":"{name}","userId":"user-{user:06d}","anonymousId":"anon-{user:06d}",'
        f'"messageId":"{mid or f"m-{i:09d}"}","timestamp":"{when}T{clock}Z",'
        f'"originalTimestamp":"{when}T{clock}Z","sentAt":"{day}T{clock}Z",'
        f'"properties":{{"tool_id":"{tool}","app":"docs","plan":"pro","n":{i},"path":"/d/{i % 977}"}},'
        f'"context":{{"library":{{"name":"analytics.js","version":"5.2.0"}},"locale":"en-US",'
        f'"page":{{"path":"/d/{i % 977}","title":"Doc","url":"https://app.example.com/d/{i % 977}"}},'
        f'"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36",'
        f'"ip":"203.0.113.0"}}{integrations},"receivedAt":"{day}T{clock}Z",'
        f'"_hw":{{"source":"bench","event_type":"{name}","tool_id":"{tool}",'
        f'"ua":{{"browser":"Chrome","os":"Linux"}},"bot":false}}}}\n'
    )


def build(data: Path, events: int, days: int) -> int:
    """Write the log, load every received day but the last; the number of distinct messages."""
    rng = random.Random(7)
    log = data / "log"
    log.mkdir(parents=True, exist_ok=True)
    per_day = events // days
    i = 0
    previous: list[str] = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        with open(log / f"events-{day:%Y%m%d}.bench.jsonl", "w") as fh:
            for _ in range(per_day):
                roll = rng.random()
                if roll < 0.02 and previous:  # a retry: a message id seen before (this day or the last)
                    fh.write(line(i, day, rng, mid=rng.choice(previous)))
                else:
                    fh.write(line(i, day, rng, late=rng.randrange(1, 4) if roll < 0.05 and d > 3 else 0))
                    if rng.random() < 0.01:
                        previous.append(f"m-{i:09d}")
                i += 1
        previous = previous[-2000:]
        if d < days - 1:
            run_daily(data, day, "UTC")
    return i


# The command's own peak, VmHWM of its process image, printed as it ends (getrusage's maxrss would
# count the memory of this script, which the command is forked from).
PROBE = """
import runpy, sys
sys.argv = ["headwater", *sys.argv[1:]]
try:
    runpy.run_module("headwater", run_name="__main__")
finally:
    peak = [r for r in open("/proc/self/status") if r.startswith("VmHWM:")][0].split()[1]
    print("peak-rss-kb", peak, file=sys.stderr)
"""


def measure(data: Path, args: list[str], out: Path) -> dict[str, Any]:
    """Run `headwater export ...` as its own process: seconds, CPU (with its workers), peak RSS, events."""
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_TIMEZONE": "UTC"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, "export", "events", *args, "--output", str(out)],
        env=env,
        stderr=subprocess.PIPE,
    )
    tree_peak = 0  # the command and its worker processes together, sampled every 20 ms
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree_peak = max(tree_peak, sum(_rss_kb(p) for p in [proc.pid, *_children(proc.pid)]))
        time.sleep(0.02)
    seconds = time.monotonic() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if status != 0:
        raise RuntimeError(f"export failed: {stderr}")
    exported = int(stderr.split("exported ", 1)[1].split(" ", 1)[0].replace(",", ""))
    return {
        "events": exported,
        "seconds": round(seconds, 2),
        "events_per_s": round(exported / seconds),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(int(stderr.split("peak-rss-kb ")[1].split()[0]) / 1024, 1),
        "peak_rss_with_workers_mb": round(tree_peak / 1024, 1),
        "bytes": out.stat().st_size,
        "loadavg": load(),
    }


def bench_http(data: Path, start: str, end: str) -> dict[str, Any]:
    import httpx
    from tests.helpers import Server

    token = "bench-export-admin-token-0123456789abcdef"
    with Server(data, env={"HEADWATER_ADMIN_TOKEN": token, "HEADWATER_TIMEZONE": "UTC"}) as srv:
        lines = size = 0
        started = time.monotonic()
        url = f"{srv.url}/api/v1/export/events?start={start}&end={end}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", url, headers=headers, timeout=600) as r:
            for chunk in r.iter_raw(1 << 20):
                lines += chunk.count(b"\n")
                size += len(chunk)
        seconds = time.monotonic() - started
        peak = 0
        assert srv.proc is not None
        for pid in [srv.proc.pid, *_children(srv.proc.pid)]:
            for row in Path(f"/proc/{pid}/status").read_text().splitlines():
                if row.startswith("VmHWM:"):
                    peak = max(peak, int(row.split()[1]))
    return {
        "events": lines,
        "seconds": round(seconds, 2),
        "events_per_s": round(lines / seconds),
        "bytes": size,
        "server_peak_rss_mb": round(peak / 1024, 1),
        "loadavg": load(),
    }


def _rss_kb(pid: int) -> int:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found] + [g for c in found for g in _children(int(c))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-export-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        if not (data / "log").is_dir():
            say(f"building {args.events:,} events over {args.days} received days ...")
            t = time.monotonic()
            written = build(data, args.events, args.days)
            report["build_s"] = round(time.monotonic() - t, 1)
            say(f"  {written:,} lines written and loaded in {report['build_s']} s")
        start, end = (DAY0 - timedelta(days=3)).isoformat(), (DAY0 + timedelta(days=args.days)).isoformat()
        one_day = (DAY0 + timedelta(days=args.days // 2)).isoformat()
        ten_years = (DAY0 + timedelta(days=args.days - 3650)).isoformat()
        runs = {
            "ndjson": ["--start", start, "--end", end],
            "ndjson_gz": ["--start", start, "--end", end],
            "csv": ["--start", start, "--end", end, "--format", "csv"],
            "parquet": ["--start", start, "--end", end, "--format", "parquet"],
            "ndjson_one_day": ["--start", one_day, "--end", one_day],
            "ndjson_ten_years": ["--start", ten_years, "--end", end],
        }
        for name, cli_args in runs.items():
            out = work / f"out-{name}{'.ndjson.gz' if name.endswith('_gz') else ''}"
            figures = measure(data, cli_args, out)
            out.unlink()
            report[name] = figures
            verdict = "ok" if figures["events_per_s"] >= TARGET_EVENTS_PER_S else "BELOW TARGET"
            if name in ("ndjson_one_day", "ndjson_ten_years"):
                verdict = ""
            say(
                f"  {name:<17} {figures['events']:>10,} events {figures['seconds']:7.2f} s"
                f" {figures['events_per_s']:>9,}/s  CPU {figures['cpu_s']:6.2f} s"
                f"  peak RSS {figures['peak_rss_mb']:6.1f} MB"
                f" (with workers {figures['peak_rss_with_workers_mb']:6.1f})"
                f"  load {figures['loadavg']}  {verdict}"
            )
        if not args.skip_http:
            report["http_ndjson"] = http = bench_http(data, start, end)
            say(
                f"  {'http_ndjson':<17} {http['events']:>10,} events {http['seconds']:7.2f} s"
                f" {http['events_per_s']:>9,}/s  server peak RSS {http['server_peak_rss_mb']} MB"
                f"  load {http['loadavg']}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # with --data, the data is elsewhere and kept
    report["loadavg_after"] = load()
    say(f"load average after: {report['loadavg_after']}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "export.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
