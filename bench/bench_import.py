"""`headwater import` of a Segment archive as NDJSON: events per second, and CPU per event.

Target (issue 16): at least 100,000 events/s from NDJSON on this machine (2 cores). The file holds
Segment archive lines (~700 bytes: context, user agent, properties, the four timestamps) over 3 days
and 5,000 users. Three runs, each `headwater import` as a process of its own (fsync "always"):

  fresh      into an empty data directory (--no-etl: the lake load is timed on its own, after)
  again      the same file: its record says done, nothing read but its hash
  duplicates the same events in another file (gzipped): every line read, converted, found stored

Printed: events/s over the process's wall time (start-up and worker fork included) and over the
import itself (the JSON's ``seconds``), CPU seconds per 1,000 events (the process and its workers),
the importing process's own share of that CPU (read from /proc every 20 ms until it exits, so up
to 20 ms short: on two cores it competes with the workers), and the load average before and
after (the cores are shared with whatever else runs).

    .venv/bin/python bench/bench_import.py [--events 500000] [--jobs 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.transfer.archives import segment_message

ROOT = Path(__file__).resolve().parent.parent
HEADWATER = str(ROOT / ".venv" / "bin" / "headwater")


def write_archive(path: Path, events: int, seed: int = 11) -> int:
    rng = random.Random(seed)
    start = datetime(2024, 5, 6, tzinfo=UTC)
    step = timedelta(days=3) / events
    encode = msgspec.json.Encoder().encode
    with path.open("wb") as out:
        batch = []
        for n in range(events):
            user = rng.randrange(5000)
            msg = segment_message(
                n, start + step * n, f"user-{user}", event=rng.choice(("Viewed", "Exported"))
            )
            msg["properties"]["tool_id"] = f"tool-{user % 12}"
            batch.append(encode(msg))
            if len(batch) == 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return path.stat().st_size


def own_cpu(pid: int) -> float | None:
    """CPU seconds a process has used itself (its threads, not its children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    load = os.getloadavg()
    t0 = time.monotonic()
    proc = subprocess.Popen([HEADWATER, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    main_cpu = 0.0
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        pump = [(proc.stdout, out_f), (proc.stderr, err_f)]
        threads = [threading.Thread(target=shutil.copyfileobj, args=p) for p in pump]
        for t in threads:
            t.start()
        while proc.poll() is None:
            main_cpu = own_cpu(proc.pid) or main_cpu
            time.sleep(0.02)
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise SystemExit(f"headwater {' '.join(args)} failed: {err.decode()[-2000:]}")
    report: dict[str, Any] = json.loads(out) if out.strip().startswith(b"{") else {}
    return {"wall_s": round(wall, 2), "report": report, "loadavg_before": load, "main_cpu_s": main_cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000, help="events in the archive")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the data directory here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-import-"))
    try:
        data = args.keep or tmp / "data"
        env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
        archive = tmp / "segment-archive.ndjson"
        t0 = time.monotonic()
        size = write_archive(archive, args.events)
        took = time.monotonic() - t0
        print(f"archive: {args.events:,} Segment messages, {size / 1e6:.0f} MB, written in {took:.1f} s")
        copy = tmp / "copy.ndjson.gz"
        copy.write_bytes(gzip.compress(archive.read_bytes(), compresslevel=1))
        figures: dict[str, Any] = {"events": args.events, "bytes": size, "cores": os.cpu_count()}
        common = ["--no-etl", "--json", "--jobs", str(args.jobs)]
        for name, target in (("fresh", archive), ("again", archive), ("duplicates", copy)):
            cpu0 = os.times()
            out = run(["import", str(target), *common], env)
            cpu1 = os.times()
            cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
            report = out["report"]
            lines = report["totals"]["lines"]
            seconds = report["seconds"]
            row = {
                "wall_s": out["wall_s"],
                "import_s": seconds,
                "lines": lines,
                "imported": report["totals"]["imported"],
                "duplicates": report["totals"]["duplicates"],
                "events_per_s_wall": round(lines / out["wall_s"]) if lines else None,
                "events_per_s_import": report["events_per_second"],
                "cpu_s": round(cpu, 2),
                "cpu_ms_per_1000": round(cpu / lines * 1e6, 1) if lines else None,
                "main_cpu_s": round(out["main_cpu_s"], 2),
                "loadavg_before": [round(x, 2) for x in out["loadavg_before"]],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
            figures[name] = row
            rate = "nothing read"
            if lines:
                rate = (
                    f"{row['events_per_s_wall']:,} events/s (wall), {row['events_per_s_import']:,} (import)"
                )
            print(
                f"{name:>10}: {row['imported']:,} imported, {row['duplicates']:,} duplicates"
                f" in {row['wall_s']} s: {rate}; CPU {row['cpu_s']} s"
                f" ({row['cpu_ms_per_1000']} ms per 1,000 events; the importing process itself"
                f" {row['main_cpu_s']} s); load {row['loadavg_before']}"
                f" -> {row['loadavg_after']}"
            )
        t0 = time.monotonic()
        subprocess.run(
            [HEADWATER, "etl", "daily", "--pending", "--json"], env=env, check=True, capture_output=True
        )
        figures["etl_s"] = round(time.monotonic() - t0, 2)
        print(f"       etl: the imported days loaded into the lake in {figures['etl_s']} s")
        fresh = figures["fresh"]["events_per_s_wall"]
        print(
            f"target: >= 100,000 events/s from NDJSON: {'met' if fresh >= 100_000 else 'NOT met'} ({fresh:,})"
        )
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "import.json").write_text(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
