"""Scale-out on this machine (issue 21): collection throughput over 1, 2 and 3 hosts, each
`headwater serve` in its own network namespace, sharing a PostgreSQL, a 3-master Redis Cluster and
a GCS emulator; the CPU each host used; then how long a closed hour of today takes from the hosts'
disks to the lake of every host (each host's turn 65 minutes later: its part shipped, today loaded
by the first over every host's parts, pulled by the rest), and a closed day (each host's turn a day
later: its files shipped whole, the day loaded again, pulled).

All hosts run on the same two cores as wrk and the services, so throughput cannot grow with hosts
here: the figures are events/s with the CPU seconds each host spent, and the load average.

    .venv/bin/python bench/bench_cluster.py [--hosts 1,2,3] [--duration 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_collector import lua_script, parse_wrk, realistic_event
from bench.server_cpu import cpu_seconds, group_pids
from tests.cluster.hosts import Host, clean_faketime_shm, services
from tests.cluster.netns import network
from tests.helpers import cli

BATCH = 100  # events per request, as the collector benchmark's batch scenario


def _wrk(url: str, script: Path, seconds: int, connections: int, out: dict[str, Any]) -> None:
    run = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url + "/v1/batch",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out.update(parse_wrk(run.stdout))


def run_hosts(n: int, seconds: int, connections: int, root: Path) -> dict[str, Any]:
    with network(n) as net, services(net.gateway, root) as env:
        hosts = [Host(net, i, root, env) for i in range(n)]
        key = cli(hosts[0].data, "keys", "create", "bench", env=hosts[0].env).stdout.strip().splitlines()[-1]
        body = json.dumps({"batch": [realistic_event(i) for i in range(BATCH)]})
        script = root / "batch.lua"
        script.write_text(lua_script("/v1/batch", body, key, unique_ids=False))
        try:
            for h in hosts:
                h.start()
            pids = {h.name: group_pids(h.proc.pid) for h in hosts if h.proc is not None}
            before = {name: cpu_seconds(p) for name, p in pids.items()}
            results: list[dict[str, Any]] = [{} for _ in hosts]
            threads = [
                threading.Thread(target=_wrk, args=(h.url, script, seconds, connections, results[i]))
                for i, h in enumerate(hosts)
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            cpu = {name: round(cpu_seconds(p) - before[name], 1) for name, p in pids.items()}
            events = sum(r.get("requests", 0) - r.get("non2xx", 0) for r in results) * BATCH
            for h in hosts:
                h.stop()
            hour = _close_hour(hosts)
            day = _close_day(hosts)
            return {
                "hosts": n,
                "events_per_s": round(events / seconds),
                "wall_s": round(wall, 1),
                "cpu_s": cpu,
                "events_per_cpu_s": round(events / max(sum(cpu.values()), 1e-9)),
                "p99_ms": [round(r.get("p99_ms", 0), 1) for r in results],
                "non2xx": sum(r.get("non2xx", 0) for r in results),
                "hour_to_lake": hour,
                "day_to_lake": day,
            }
        finally:
            for h in hosts:
                h.stop()


def _close_hour(hosts: list[Host]) -> dict[str, Any]:
    """Every host's turn 65 minutes later (an hour of today closed): its part shipped, today loaded
    by the first host over every part shipped, pulled by the rest (docs/scale-out.md)."""
    started = time.monotonic()
    turns = []
    for h in hosts:
        t0 = time.monotonic()
        report = h.turn("+65m")
        turns.append(
            {
                "host": h.name,
                "seconds": round(time.monotonic() - t0, 1),
                "shipped": report["shipped"],
                "loaded": (report["pipeline"] or {}).get("loaded"),
                "errors": report["errors"],
            }
        )
    return {"seconds": round(time.monotonic() - started, 1), "turns": turns}


def _close_day(hosts: list[Host]) -> dict[str, Any]:
    """Every host's turn a day later: its files shipped, the day loaded by the first, pulled by the rest."""
    log_bytes = sum(p.stat().st_size for h in hosts for p in (h.data / "log").glob("events-*.jsonl"))
    started = time.monotonic()
    turns = []
    for h in hosts:
        t0 = time.monotonic()
        report = h.turn()
        loaded = (report["pipeline"] or {}).get("loaded")
        took = round(time.monotonic() - t0, 1)
        turns.append(
            {
                "host": h.name,
                "seconds": took,
                "shipped": report["shipped"],
                "loaded": loaded,
                "errors": report["errors"],
            }
        )
    seconds = time.monotonic() - started
    return {"log_mb": round(log_bytes / 2**20, 1), "seconds": round(seconds, 1), "turns": turns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="1,2,3", help="host counts to run, comma-separated")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per host count")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections per host")
    args = ap.parse_args()
    out: dict[str, Any] = {"loadavg_before": [round(x, 2) for x in os.getloadavg()], "runs": []}
    started = time.time() - 1
    for n in (int(x) for x in args.hosts.split(",")):
        with tempfile.TemporaryDirectory(prefix="hw-bench-cluster-") as tmp:
            out["runs"].append(run_hosts(n, args.duration, args.connections, Path(tmp)))
        print(json.dumps(out["runs"][-1]), file=sys.stderr)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    clean_faketime_shm(started)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
