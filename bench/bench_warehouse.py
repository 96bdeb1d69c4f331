"""The warehouse export of one busy hour: a million events received in one hour, exported by
`headwater warehouse sync` (a process of its own) into the BigQuery emulator.

Target (issue 15): under 30 s of wall time, peak RSS under 500 MB (the exporting process; the
emulator is a process of its own and stands in for BigQuery, whose own time differs). The figures
are split in preparing the Parquet file (ours), the load job and the transaction (the emulator's
work, as real BigQuery's would be theirs).

    .venv/bin/python bench/bench_warehouse.py [--events 1000000] [--around 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bq_services import start_emulator

ROOT = Path(__file__).resolve().parent.parent
HEADWATER = str(ROOT / ".venv" / "bin" / "headwater")


def write_hour(log_dir: Path, hour: datetime, events: int, around: int, seed: int = 7) -> int:
    """``events`` lines received in ``hour`` (about 500 bytes each, like a browser's track), and
    ``around`` more in the hours before and after (found and skipped by the binary search)."""
    rng = random.Random(seed)
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"events-{hour:%Y%m%d}.bench.jsonl"
    size = 0
    with path.open("w") as out:
        spans = [
            (hour - timedelta(hours=1), around // 2),
            (hour, events),
            (hour + timedelta(hours=1), around // 2),
        ]
        for start, n in spans:
            step = 3600.0 / max(n, 1)
            for i in range(n):
                received = start + timedelta(seconds=i * step)
                ts = received - timedelta(seconds=rng.randint(0, 30))
                user = rng.randint(1, 50_000)
                line = {
                    "type": "track",
                    "event": rng.choice(["Viewed", "Clicked", "Exported", "Signed Up"]),
                    "messageId": f"b{start:%H}-{i}",
                    "userId": f"user-{user}" if user % 3 else None,
                    "anonymousId": f"anon-{user}",
                    "properties": {"tool_id": f"tool-{user % 12}", "plan": "pro", "value": user % 97},
                    "context": {
                        "ip": "203.0.113.0",
                        "library": {"name": "analytics.js", "version": "5.2.0"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
                        "page": {"path": "/app/reports", "url": "https://example.com/app/reports"},
                    },
                    "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "receivedAt": received.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "sentAt": received.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "_hw": {"source": "bench", "bot": False, "tool_id": f"tool-{user % 12}"},
                }
                text = json.dumps(line, separators=(",", ":")) + "\n"
                size += len(text)
                out.write(text)
    return size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="events received in the hour")
    ap.add_argument("--around", type=int, default=100_000, help="events in the hours before and after")
    args = ap.parse_args()
    hour = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="hw-bench-wh-") as tmp:
        data = Path(tmp) / "data"
        t0 = time.monotonic()
        size = write_hour(data / "log", hour, args.events, args.around)
        print(
            f"log: {args.events:,} events in {hour:%Y-%m-%d %H}:00 UTC (+{args.around:,} around),"
            f" {size / 1e6:.0f} MB, written in {time.monotonic() - t0:.1f} s"
        )
        emulator = start_emulator()
        try:
            url = emulator.url("bench")
            env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_WAREHOUSE_URL": url}
            subprocess.run([HEADWATER, "warehouse", "init"], env=env, check=True, capture_output=True)
            load = os.getloadavg()
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [HEADWATER, "warehouse", "sync", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - t0
            out = proc.stdout.read() if proc.stdout else b""
            if status != 0:
                err = proc.stderr.read().decode() if proc.stderr else ""
                print(f"sync failed: {err}")
                return 1
            report = json.loads(out)
        finally:
            emulator.process.terminate()
            emulator.process.wait(10)
    busy = max(report["exported"], key=lambda h: h["rows"])
    figures = {
        "events": args.events,
        "rows_exported_total": report["rows"],
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "busy_hour": busy,
        "loadavg_before": [round(x, 2) for x in load],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(
        f"export of the busy hour: {busy['rows']:,} rows; whole sync {wall:.1f} s wall (target < 30 s),"
        f" peak RSS {figures['peak_rss_mb']} MB (target < 500 MB), CPU {figures['cpu_s']} s"
    )
    print(
        f"  of which: prepare Parquet {busy['prepare_s']} s, load job {busy['load_s']} s,"
        f" transaction {busy['apply_s']} s (the last two: the emulator's work)"
    )
    print(
        f"  load average before {figures['loadavg_before']} after {figures['loadavg_after']} (2 cores shared)"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "warehouse.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
