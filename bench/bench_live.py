"""Live layer: tailer throughput into the live store, and the live endpoints' latency under wrk.

Targets (issue 5): the live tailer >= 100,000 events/s into a single Redis (pipelined: one Lua
script per batch of up to 10,000 lines); the figure for a 3-master Redis Cluster on loopback; the
live endpoints' p99 < 10 ms at ~1,000 requests/s. The tailer figure is end to end: reading the
log files, decoding, folding and the Redis round trip. wrk, the server and Redis share the same
two cores: the load average is printed with the figures.

Each endpoint figure comes with the load average and the server's CPU time per request (utime +
stime of every server process from /proc, which machine load barely skews), for 1 and 2 workers.

    .venv/bin/python bench/bench_live.py [--events 200000] [--duration 10] [--workers 1 2] [--skip-tailer]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_cpu import CpuMeter, as_client, load1, wait_quiet
from tests.helpers import Server
from tests.redis_services import RedisClusterNodes, RedisServer

from headwater.events.timestamps import format_timestamp
from headwater.live.fold import LiveEvent
from headwater.live.target import LIVE_TAILER, LiveTarget
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions

TOOLS = ["editor", "export", "share", "search", "comments", "viewer", "billing", "admin"]
EVENTS = ["Tool Used", "Saved", "Opened", "Shared", "Clicked"]
TOKEN = "bench-live-token"


def write_log(log_dir: Path, n: int, users: int) -> Path:
    """n realistic log lines over the last 50 minutes, in receive order."""
    log_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = log_dir / f"events-{now:%Y%m%d}.bench.jsonl"
    rnd = random.Random(5)
    start = now - timedelta(minutes=50)
    with open(path, "w") as fh:
        for i in range(n):
            ts = format_timestamp(start + timedelta(seconds=3000 * i / n))
            user = rnd.randrange(users)
            tool = TOOLS[user % len(TOOLS)] if rnd.random() < 0.7 else rnd.choice(TOOLS)
            record = {
                "type": "track",
                "event": (ev := rnd.choice(EVENTS)),
                "userId": f"user-{user}",
                "anonymousId": f"anon-{user}",
                "properties": {"tool_id": tool, "duration_ms": 1200 + i % 700, "plan": "pro"},
                "context": {"library": {"name": "analytics.js", "version": "2.1.0"}, "ip": "203.0.113.0"},
                "messageId": f"msg-{i}",
                "timestamp": ts,
                "receivedAt": ts,
                "_hw": {"source": "bench", "bot": False, "event_type": ev, "tool_id": tool},
            }
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def tail_all(url: str, log_dir: Path) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, events): end to end, the last commit included."""
    store = open_live(url).counters(StoreOptions())
    store.reset(LIVE_TAILER)
    target = LiveTarget(store, log_dir)
    tailer = Tailer(LIVE_TAILER, log_dir, target, LiveEvent)
    started, cpu = time.perf_counter(), time.process_time()
    tailer.run(threading.Event(), until_caught_up=True, max_failures=3)
    target.flush()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    target.close()
    store.close()
    return elapsed, cpu, tailer.status.applied_events


def stages(log_dir: Path) -> dict[str, float]:
    """CPU microseconds per event of each stage of the tailer's Python side (machine load cannot
    skew CPU time much, unlike wall time): the shared log read, decode, fold, payload encoding."""
    import msgspec

    from headwater.live.state import LiveState
    from headwater.log.merged_read import read_merged
    from headwater.log.tailing.decode import decode_lines

    cpu = dict.fromkeys(("read", "decode", "fold", "encode"), 0.0)
    state = LiveState(UTC)
    now = datetime.now(UTC)
    checkpoint: dict[str, int] = {}
    events = 0
    while True:
        t = time.process_time()
        merged = read_merged(log_dir, checkpoint, 10_000)
        cpu["read"] += time.process_time() - t
        if not merged.lines:
            break
        t = time.process_time()
        records, _, _ = decode_lines(merged.lines, LiveEvent)
        cpu["decode"] += time.process_time() - t
        t = time.process_time()
        delta = state.fold(records, now)
        cpu["fold"] += time.process_time() - t
        t = time.process_time()
        msgspec.msgpack.encode([[n, e, list(r.items())] for n, r in delta.values.items() for e in [0]])
        cpu["encode"] += time.process_time() - t
        events += len(records)
        checkpoint = merged.checkpoint
    return {k: round(v * 1e6 / events, 2) for k, v in cpu.items()}


def lua_usec(server: RedisServer) -> float:
    stats = server.client().info("commandstats")
    calls = usec = 0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        calls += int(stats.get(name, {}).get("calls", 0))
        usec += int(stats.get(name, {}).get("usec", 0))
    return usec


WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer %s"
function delay()
  return %d
end
"""


def wrk(
    url: str, duration: int, connections: int, delay_ms: int, workdir: Path, workers: int
) -> dict[str, float]:
    script = workdir / "live.lua"
    script.write_text(WRK_SCRIPT % (TOKEN, delay_ms))
    out = subprocess.run(
        as_client(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url], workers
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m is not None, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_s": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def bench_tailer(
    data: Path, redis_server: RedisServer, cluster: RedisClusterNodes, results: dict[str, object]
) -> None:
    per_stage = stages(data / "log")
    results["tailer_cpu_us_per_event_by_stage"] = per_stage
    print(f"tailer CPU us/event by stage (this process): {per_stage}  load {os.getloadavg()}")
    for name, url in (
        ("memory", "memory://?namespace=bench"),
        ("redis", f"{redis_server.url}?namespace=bench"),
        ("cluster", f"{cluster.url}?namespace=bench"),
    ):
        lua_before = lua_usec(redis_server)
        elapsed, cpu, applied = tail_all(url, data / "log")
        rate = applied / elapsed
        load = os.getloadavg()
        results[f"tailer_{name}_events_s"] = round(rate)
        results[f"tailer_{name}_cpu_us_per_event"] = round(cpu * 1e6 / applied, 2)
        results[f"tailer_{name}_loadavg"] = load
        extra = ""
        if name == "redis":
            lua = (lua_usec(redis_server) - lua_before) / applied
            results["tailer_redis_lua_us_per_event"] = round(lua, 2)
            extra = f", Redis Lua {lua:.2f} us/event (server side)"
        print(
            f"live tailer into {name:8s}: {applied} events in {elapsed:.2f} s = {rate:,.0f} ev/s, "
            f"CPU {cpu * 1e6 / applied:.2f} us/event (this process){extra}  load {load}"
        )


def bench_api(
    data: Path,
    work: Path,
    redis_server: RedisServer,
    workers: int,
    duration: int,
    rate: int,
    results: dict[str, object],
) -> None:
    """The endpoints on a real server whose live store (the private Redis) is already filled, at
    ``rate`` requests/s offered at most (12 connections, each one request per 12000/rate ms after the
    previous answer: ~1,000 requests/s at 2 ms latency)."""
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN, "HEADWATER_REDIS_URL": f"{redis_server.url}?namespace=bench"}
    delay_ms = max(0, round(12_000 / rate))  # 12 connections
    with Server(data, workers=workers, env=env) as srv:
        assert srv.proc is not None
        waited = wait_quiet(srv.proc.pid)  # its tailers first catch up with the log
        print(f"server with {workers} worker(s) idle after {waited:.0f} s", flush=True)
        meter = CpuMeter(srv.proc.pid)
        for path in ("active-users?window=24h", "active-users?window=5m", "today", "hourly"):
            url = f"{srv.url}/api/v1/live/{path}"
            wrk(url, 2, 12, delay_ms, work, workers)  # warm-up
            before = load1()
            meter.start()
            figures = wrk(url, duration, 12, delay_ms, work, workers)
            cpu = meter.stop()
            requests = figures["req_s"] * duration
            figures["server_cpu_us_per_request"] = round(cpu * 1e6 / max(requests, 1), 1)
            figures["loadavg_1m_before"], figures["loadavg_1m_after"] = before, load1()
            results[f"api_{path}_workers{workers}"] = figures
            print(
                f"GET /api/v1/live/{path:24s} workers={workers} {figures['req_s']:7.0f} req/s  "
                f"p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms  "
                f"non-2xx {figures['non_2xx']:.0f}  server CPU {figures['server_cpu_us_per_request']:.0f} "
                f"us/req  load {before} -> {figures['loadavg_1m_after']}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--skip-tailer", action="store_true")
    parser.add_argument(
        "--rate", type=int, default=1000, help="requests/s offered at zero latency (12 conns)"
    )
    args = parser.parse_args()
    results: dict[str, object] = {"events": args.events, "users": args.users}
    with tempfile.TemporaryDirectory(prefix="hw-bench-live-") as tmp:
        work = Path(tmp)
        data = work / "data"
        write_log(data / "log", args.events, args.users)
        redis_server = RedisServer(work / "redis").start()
        cluster = (
            None if args.skip_tailer else RedisClusterNodes(work / "cluster", full_coverage=True).start()
        )
        try:
            if cluster is not None:
                bench_tailer(data, redis_server, cluster, results)
            else:  # the endpoints need a filled store all the same
                tail_all(f"{redis_server.url}?namespace=bench", data / "log")
            for workers in args.workers:
                bench_api(data, work, redis_server, workers, args.duration, args.rate, results)
        finally:
            if cluster is not None:
                cluster.stop()
            redis_server.stop()
    results["loadavg"] = os.getloadavg()
    print(f"load average (1, 5, 15 min): {os.getloadavg()}  (wrk, server and Redis share 2 cores)")
    out = Path(__file__).resolve().parent / "results" / "live.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
