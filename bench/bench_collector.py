"""Collector throughput and latency under wrk, fsync=always, on this machine.

Scenarios (issue 2 targets):
  batch   POST /v1/batch with 100 realistic events (~400 bytes each)  >= 100,000 events/s
  track   POST /v1/track, one event per request                       >= 6,000 req/s, p99 < 20 ms
  api     POST /api/events, one event per request                     >= 6,000 req/s, p99 < 20 ms
plus the servers' peak RSS (< 300 MB). wrk runs on the same two cores as the server: the figures
are printed with the load average so they can be read honestly.

    .venv/bin/python bench/bench_collector.py [--workers 2] [--duration 10] [--scenario batch]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_cpu import as_client, cpu_seconds, group_pids
from tests.helpers import Server, create_key
from tests.redis_services import RedisServer

UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
TOOLS = ["editor", "export", "share", "search", "comments"]


def realistic_event(i: int) -> dict[str, object]:
    return {
        "type": "track",
        "event": "Tool Used",
        "userId": f"user-{i % 5000}",
        "anonymousId": str(uuid.UUID(int=i)),
        "messageId": str(uuid.uuid4()),
        "timestamp": "2026-11-25T10:00:00.000Z",
        "properties": {"tool_id": TOOLS[i % len(TOOLS)], "duration_ms": 1200 + i % 700, "plan": "pro"},
        "context": {
            "library": {"name": "analytics.js", "version": "2.1.0"},
            "page": {"path": "/app/editor", "url": "https://app.example.com/app/editor"},
            "userAgent": UA,
            "locale": "en-US",
        },
    }


def lua_script(path: str, body: str, key: str, unique_ids: bool) -> str:
    auth = base64.b64encode(f"{key}:".encode()).decode()
    escaped = json.dumps(body)
    if not unique_ids:
        return (
            f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = {escaped}\n'
            f'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Basic {auth}"\n'
        )
    # one fresh messageId per request (single-event scenarios)
    head, tail = body.split("__MID__")
    return (
        f"local counter = 0\nlocal tid = math.random(1, 1000000)\nlocal head = {json.dumps(head)}\n"
        f"local tail = {json.dumps(tail)}\n"
        f'wrk.method = "POST"\nwrk.path = "{path}"\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Basic {auth}"\n'
        "request = function()\n  counter = counter + 1\n"
        '  return wrk.format(nil, nil, nil, head .. tid .. "-" .. counter .. tail)\nend\n'
    )


def parse_wrk(out: str) -> dict[str, float]:
    def seconds(value: str, unit: str) -> float:
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    res: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b", out)
        if m:
            res[f"p{pct}_ms"] = seconds(m.group(1), m.group(2)) * 1000
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = float(m.group(1)) if m else 0.0
    return res


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


class RssSampler(threading.Thread):
    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.peak = 0.0
        self.peak_single = 0.0
        self.peak_pss = 0.0
        self.per_process: dict[str, float] = {}
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            pids = group_pids(self.root_pid)
            self.peak = max(self.peak, rss_mb(pids))
            self.peak_pss = max(self.peak_pss, pss_mb(pids))
            for pid in pids:
                name = process_name(pid)
                self.per_process[name] = max(self.per_process.get(name, 0.0), round(rss_mb([pid]), 1))
            self.peak_single = max([self.peak_single] + [rss_mb([p]) for p in pids])
            time.sleep(0.2)


def pss_mb(pids: list[int]) -> float:
    """Proportional set size: shared library pages divided among the processes that map them."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def process_name(pid: int) -> str:
    """'<module> <name>' of a server process (python -m headwater.process.worker http-0 ...)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return str(pid)
    if "-m" in argv and len(argv) > argv.index("-m") + 2:
        i = argv.index("-m")
        return f"{argv[i + 1]} {argv[i + 2]} [{pid}]"
    return " ".join(argv)[:60] + f" [{pid}]"


def run_wrk(url: str, script: Path, connections: int, duration: int, workers: int) -> dict[str, float]:
    cmd = as_client(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url], workers
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--scenario", action="append", choices=["batch", "track", "api"])
    ap.add_argument("--fsync", default="always", choices=["always", "interval", "never"])
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (make bench installs it as root)")
        return 2
    scenarios = args.scenario or ["batch", "track", "api"]
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    results: dict[str, object] = {"workers": args.workers, "fsync": args.fsync, "cpus": os.cpu_count()}
    env = {"HEADWATER_FSYNC": args.fsync}
    redis_srv = None
    if args.workers > 1:  # several workers share the live store: a private Redis
        redis_srv = RedisServer(tmp / "redis").start()
        env["HEADWATER_REDIS_URL"] = redis_srv.url
    srv = Server(tmp / "data", workers=args.workers, env=env)
    try:
        srv.start(timeout=60)
        key = create_key(srv.data_dir, "bench")
        batch_body = json.dumps({"batch": [realistic_event(i) for i in range(100)], "sentAt": None})
        batch_body = batch_body.replace('"sentAt": null', '"sentAt": "2026-11-25T10:00:00.100Z"')
        ev = realistic_event(7)
        ev["messageId"] = "__MID__"
        single = json.dumps(ev)
        api_ev = {
            "event_type": "Tool Used",
            "user_id": "user-7",
            "tool_id": "editor",
            "message_id": "__MID__",
            "properties": {"duration_ms": 1200, "plan": "pro"},
        }
        per_event = len(json.dumps(realistic_event(1)))
        print(f"event size ~{per_event} bytes; batch body {len(batch_body)} bytes")
        for name in scenarios:
            script = tmp / f"{name}.lua"
            if name == "batch":
                script.write_text(lua_script("/v1/batch", batch_body, key, unique_ids=False))
                conns = 16
            elif name == "track":
                script.write_text(lua_script("/v1/track", single, key, unique_ids=True))
                conns = 32
            else:
                script.write_text(lua_script("/api/events", json.dumps(api_ev), key, unique_ids=True))
                conns = 32
            assert srv.proc is not None
            sampler = RssSampler(srv.proc.pid)
            sampler.start()
            load_before = os.getloadavg()[0]
            pids = group_pids(srv.proc.pid)
            cpu_before = cpu_seconds(pids)
            bg_pids = [p for p in pids if "process.worker background" in process_name(p)]
            bg_before = cpu_seconds(bg_pids)
            res = run_wrk(srv.url, script, conns, args.duration, args.workers)
            cpu_used = cpu_seconds(pids) - cpu_before
            bg_used = cpu_seconds(bg_pids) - bg_before
            sampler.stop_flag.set()
            sampler.join()
            res["events_per_s"] = res["rps"] * (100 if name == "batch" else 1)
            events = res["requests"] * (100 if name == "batch" else 1)
            res["server_cpu_us_per_event"] = round(cpu_used / max(events, 1) * 1e6, 2)
            # of which the background process (tailers catching up while the load runs, at nice 10)
            res["background_cpu_us_per_event"] = round(bg_used / max(events, 1) * 1e6, 2)
            res["collection_cpu_us_per_event"] = round((cpu_used - bg_used) / max(events, 1) * 1e6, 2)
            # what 2 dedicated cores would sustain at that CPU cost (an upper bound, no load generator)
            res["events_per_s_per_2_cores"] = round(2 / max(cpu_used / max(events, 1), 1e-9))
            res["rss_total_mb"] = round(sampler.peak, 1)
            res["rss_max_process_mb"] = round(sampler.peak_single, 1)
            res["pss_total_mb"] = round(sampler.peak_pss, 1)
            res["rss_per_process_mb"] = sampler.per_process  # type: ignore[assignment]
            res["loadavg_1m_before"] = load_before
            res["loadavg_1m_after"] = os.getloadavg()[0]
            res["connections"] = conns
            results[name] = res
            print(f"{name:6s} {json.dumps(res)}")
        lines = sum(p.read_bytes().count(b"\n") for p in (srv.data_dir / "log").glob("events-*.jsonl"))
        results["log_lines"] = lines
        print(f"log lines written: {lines}")
    finally:
        srv.stop()
        if redis_srv is not None:
            redis_srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = Path(__file__).parent / "results" / "collector.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
