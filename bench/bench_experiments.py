"""Experiments: assignment throughput and latency under wrk (Redis sticky store), and results over a
large lake.

Issue 6 targets:
  assign-one    GET /v1/experiments/KEY/assignment, one user (sticky hit)   >= 5,000 req/s, p99 < 10 ms
  assign-new    the same, a new user per request (sticky write + exposure fsynced in the log): reported
  results       1,000,000 exposed users over 30 days of the lake                          < 5 s
wrk, the server and Redis share this machine's two cores: every figure is printed with the load.

Each assignment figure also gives the server's CPU time per request (utime + stime of every server
process from /proc: machine load barely skews it), for 1 and 2 workers by default.

    .venv/bin/python bench/bench_experiments.py [--workers 1 2] [--duration 10] [--users 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_collector import parse_wrk
from bench.server_cpu import CpuMeter, as_client, wait_quiet
from tests.helpers import Server, create_key
from tests.redis_services import RedisServer

from headwater.experiments import parse_experiment
from headwater.experiments.results import ResultsOptions, experiment_results
from headwater.lake.layout import Lake
from headwater.lake.sql import connect, quote

TOKEN = "bench-token"
DEFINITION: dict[str, Any] = {
    "key": "bench",
    "variations": ["control", "treatment"],
    "meta": [{"key": "control"}, {"key": "treatment"}],
    "status": "running",
    "metrics": {
        "primary": {"key": "buy", "kind": "conversion", "event": "Order Completed", "window_days": 7},
        "secondary": [{"key": "revenue", "kind": "sum", "event": "Order Completed", "property": "revenue"}],
        "guardrail": [{"key": "tools", "kind": "count", "event": "Tool Used"}],
    },
}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def wrk(
    url: str, path: str, key: str, unique: bool, connections: int, duration: int, work: Path, workers: int
) -> dict[str, float]:
    script = work / "assign.lua"
    if unique:
        script.write_text(
            f'wrk.headers["X-Write-Key"] = "{key}"\ncounter = 0\n'
            "request = function()\n  counter = counter + 1\n"
            f'  return wrk.format("GET", "{path}?userId=u" .. math.random(1, 1000000000) .. "-" .. counter)'
            "\nend\n"
        )
    else:
        script.write_text(f'wrk.headers["X-Write-Key"] = "{key}"\nwrk.path = "{path}?userId=bench-user"\n')
    cmd = as_client(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url], workers
    )
    before = load()
    res = parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    res["loadavg_1m_before"], res["loadavg_1m_after"] = before, load()
    return res


def bench_assignment(work: Path, workers: int, duration: int) -> dict[str, Any]:
    redis_server = RedisServer(work / "redis").start()
    env = {
        "HEADWATER_ADMIN_TOKEN": TOKEN,
        "HEADWATER_REDIS_URL": redis_server.url,
    }
    srv = Server(work / "data", workers=workers, env=env)
    out: dict[str, Any] = {"workers": workers, "sticky_store": "redis"}
    try:
        srv.start(timeout=60)
        key = create_key(srv.data_dir, "bench")
        r = httpx.post(
            f"{srv.url}/api/v1/experiments", json=DEFINITION, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        r.raise_for_status()
        time.sleep(1.5)  # every worker refreshes its definitions
        path = "/v1/experiments/bench/assignment"
        assert srv.proc is not None
        wait_quiet(srv.proc.pid)
        meter = CpuMeter(srv.proc.pid)
        for name, unique, conns in (("assign-one", False, 32), ("assign-new", True, 32)):
            wrk(srv.url, path, key, unique, conns, 2, work, workers)  # warm-up
            meter.start()
            res = wrk(srv.url, path, key, unique, conns, duration, work, workers)
            res["server_cpu_us_per_request"] = round(meter.stop() * 1e6 / max(res["requests"], 1), 1)
            out[name] = res
            print(
                f"{name:<11} workers={workers} conns={conns}: {res['rps']:.0f} req/s  p50 "
                f"{res.get('p50_ms', 0):.2f} ms  p99 {res.get('p99_ms', 0):.2f} ms  "
                f"non-2xx {res['non2xx']:.0f}  server CPU {res['server_cpu_us_per_request']:.0f} us/req"
                f"  load {res['loadavg_1m_before']} -> {res['loadavg_1m_after']}",
                flush=True,
            )
    finally:
        srv.stop()
        redis_server.stop()
    return out


def build_lake(data: Path, users: int, days: int) -> tuple[date, float]:
    """Each user: one exposure on day (u % days), ~20 % buy within a day (revenue), ~10 % bought in the
    two days before, and 3 'Tool Used' events; written as the ETL lays the lake out."""
    lake = Lake(data / "lake")
    day0 = datetime.now(UTC).date() - timedelta(days=days)
    con = connect(lake.tmp_dir, "2GB")
    stage = data / "stage"
    t = time.monotonic()
    base = f"TIMESTAMPTZ '{day0} 00:00:00+00' + INTERVAL (u % {days}) DAY + INTERVAL (hash(u) % 40000) SECOND"
    rows = f"""
        SELECT 'x' || u AS message_id, 'Experiment Viewed' AS event, {base} AS ts,
               ('{{"experiment_id":"bench","experiment_phase":"0","variation_id":"'
                || CASE WHEN hash(u * 3) % 2 = 0 THEN 'control' ELSE 'treatment' END || '"}}') AS props, u
        FROM range({users}) t(u)
        UNION ALL
        SELECT 'o' || u, 'Order Completed', {base} + INTERVAL 3 HOUR,
               '{{"revenue":' || (hash(u) % 100) || '}}', u
        FROM range({users}) t(u) WHERE hash(u * 5) % 100 < 20 + (hash(u * 3) % 2) * 2
        UNION ALL
        SELECT 'p' || u, 'Order Completed', {base} - INTERVAL 2 DAY, '{{"revenue":10}}', u
        FROM range({users}) t(u) WHERE hash(u * 7) % 100 < 10
        UNION ALL
        SELECT 't' || u || '-' || k, 'Tool Used', {base} + INTERVAL (k) HOUR, '{{"tool_id":"editor"}}', u
        FROM range({users}) t(u), range(3) s(k)
    """
    con.execute(f"""
        COPY (
            SELECT message_id, 'track' AS type, event, NULL::VARCHAR AS tool_id, 'u' || u AS user_id,
                   NULL::VARCHAR AS anonymous_id, NULL::VARCHAR AS previous_id, 'u' || u AS actor, ts,
                   ts AS received_at, 'bench' AS source, false AS bot, props::JSON AS properties,
                   NULL::JSON AS traits, NULL::JSON AS context, CAST(ts AS DATE) AS recv_day,
                   strftime(CAST(ts AS DATE), '%Y-%m-%d') AS date
            FROM ({rows}) WHERE ts >= TIMESTAMPTZ '{day0} 00:00:00+00'
        ) TO {quote(str(stage))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))
    """)
    for part in sorted(stage.iterdir()):
        day = date.fromisoformat(part.name[5:])
        target = lake.date_dir(day)
        target.mkdir(parents=True, exist_ok=True)
        for k, f in enumerate(sorted(part.glob("*.parquet"))):
            os.replace(f, target / f"recv-{day:%Y%m%d}{'' if k == 0 else f'.{k}'}.parquet")
        lake.write_manifest(day, {"files": {}, "project_tz": "UTC", "event_dates": [day.isoformat()]})
    shutil.rmtree(stage, ignore_errors=True)
    con.close()
    return day0, time.monotonic() - t


def bench_results(work: Path, users: int, days: int) -> dict[str, Any]:
    data = work / "lake-data"
    (data / "log").mkdir(parents=True, exist_ok=True)
    day0, built = build_lake(data, users, days)
    print(f"lake: {users} users over {days} days built in {built:.1f} s", flush=True)
    exp = parse_experiment(DEFINITION)
    out: dict[str, Any] = {"users": users, "days": days}
    for label, options in (
        ("results", ResultsOptions()),
        ("results+sequential", ResultsOptions(sequential=True)),
    ):
        before = load()
        t = time.monotonic()
        body = experiment_results(data, "UTC", exp, day0, options)
        seconds = time.monotonic() - t
        exposed = sum(body["exposure"]["users"].values())
        out[label] = {
            "seconds": round(seconds, 2),
            "exposed": exposed,
            "loadavg_1m_before": before,
            "loadavg_1m_after": load(),
        }
        rel = body["metrics"][0]["comparisons"][0]["frequentist"][0]
        print(
            f"{label:<19} {exposed} exposed users, 3 metrics: {seconds:.2f} s  (buy: relative lift "
            f"{rel['expected']:+.2%}, p = {rel['p_value']:.3g})  load {before} -> {load()}",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--skip-assign", action="store_true")
    parser.add_argument("--skip-results", action="store_true")
    args = parser.parse_args()
    print(f"bench_experiments: cpus={os.cpu_count()} load {os.getloadavg()}", flush=True)
    results: dict[str, Any] = {"started": datetime.now(UTC).isoformat()}
    with tempfile.TemporaryDirectory(prefix="hw-bench-exp-") as tmp:
        work = Path(tmp)
        if not args.skip_assign:
            if shutil.which("wrk") is None:
                print("wrk is not installed: apt-get install wrk")
            else:
                for workers in args.workers:
                    run = work / f"assign-{workers}"
                    results[f"assignment_workers{workers}"] = bench_assignment(run, workers, args.duration)
        if not args.skip_results:
            results["results"] = bench_results(work, args.users, args.days)
    name = "experiments.json" if not (args.skip_assign or args.skip_results) else "experiments-partial.json"
    out = Path(__file__).resolve().parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out.name}")


if __name__ == "__main__":
    main()
