"""Realtime tailer apply rate into SQLite and PostgreSQL, and its lag under collector load.

Targets (issue 3): >= 150,000 events/s into PostgreSQL and >= 100,000 into SQLite on the realistic
workload, and a lag under 2 s while the collector benchmark's load runs.

Workloads (N log lines over 2 writers, ~500 bytes each):
  realistic  5,000 users with a stable device anonymousId, sessions of 10-50 events a few seconds
             to a minute apart, 8 tool_ids; 10 % of users start anonymous and identify later, so
             every batch brings a few anonymous -> user links (and each user's first event links
             its device id). Timed twice: a full tail from an empty store, and the steady state
             (the last 80 % of the log, after the first 20 % was applied: what a running tailer does).
  worst      20,000 users whose events are 1.5 h apart: every event starts a new session, and
             20,000 anonymous ids are identified in the first batch.

The process applies the server's GC settings first (headwater.wiring.tune_gc: freeze, young
generation threshold 100,000), as `headwater serve` does; ``--default-gc`` keeps Python's defaults.
Each figure comes with the load average and the CPU time per event of the tailer process (and of
the PostgreSQL backend), which load from other processes cannot skew.

  .venv/bin/python bench/bench_tailer.py [--events N] [--workload realistic|worst] [--store sqlite|postgresql]
  .venv/bin/python bench/bench_tailer.py --lag [--duration 20] [--workers 2] [--scenario batch|track|api]
      [--store sqlite|postgresql]

``--lag`` starts `headwater serve` (2 workers and a private Redis by default, SQLite or PostgreSQL),
runs wrk with each of bench_collector.py's scenarios (batch: 100 realistic events per request;
track and api: one event per request) and samples the lag_seconds of every tailer on /readyz (the
background process runs them; a worker's /readyz reports their status).
PostgreSQL: HEADWATER_BENCH_PG_URL, else the local server on 127.0.0.1:5432 as postgres (a
throwaway database), else skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from headwater.log.tailing.tailer import Tailer
from headwater.realtime.replay import BATCH_LINES, CATCH_UP_LINES
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.realtime import open_realtime_store
from headwater.wiring import tune_gc

START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
TOOLS = ["editor", "export", "share", "search", "comments", "billing", "settings", "import"]
EVENTS = ["Tool Used", "Page Viewed", "Document Saved", "Button Clicked", "Search Ran", "File Shared"]
CONTEXT = {"library": {"name": "analytics.js", "version": "2.1.0"}, "ip": "203.0.113.0", "locale": "en-US"}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _line(
    enc: msgspec.json.Encoder, at: datetime, etype: str, name: str, tool: str, user: str | None, anon: str
) -> bytes:
    ts = _iso(at)
    ev: dict[str, object] = {"type": etype, "anonymousId": anon, "messageId": uuid.uuid4().hex}
    if etype == "track":
        ev["event"] = name
    if user is not None:
        ev["userId"] = user
    ev.update(
        properties={"tool_id": tool, "duration_ms": 1200, "path": "/app/editor"},
        timestamp=ts,
        receivedAt=ts,
        context=CONTEXT,
        _hw={
            "source": "bench",
            "bot": False,
            "event_type": name if etype == "track" else etype,
            "tool_id": tool,
        },
    )
    return enc.encode(ev) + b"\n"


def realistic_lines(n: int, users: int = 5000, seed: int = 7) -> Iterator[bytes]:
    """Sessions of 10-50 events per user, more than 30 minutes apart, merged in time order."""
    rnd = random.Random(seed)
    enc = msgspec.json.Encoder()
    per_user = max(1, n // users)
    plan: list[tuple[float, int, int]] = []  # (seconds after START, user, index of the user's event)
    for u in range(users):
        t = rnd.uniform(0, 4 * 3600)
        k = 0
        while k < per_user:
            for _ in range(min(rnd.randint(10, 50), per_user - k)):
                plan.append((t, u, k))
                t += rnd.uniform(2, 60)
                k += 1
            t += rnd.uniform(35 * 60, 3 * 3600)
    plan.sort()
    for t, u, k in plan[:n]:
        anon = str(uuid.UUID(int=u + 1))
        late_identify = u % 10 == 0  # anonymous for their first 5 events, then identify
        at = START + timedelta(seconds=t)
        if late_identify and k < 5:
            yield _line(enc, at, "track", EVENTS[k % len(EVENTS)], TOOLS[u % len(TOOLS)], None, anon)
        elif late_identify and k == 5:
            yield _line(enc, at, "identify", "", TOOLS[u % len(TOOLS)], f"user-{u}", anon)
        else:
            ev = EVENTS[(u + k) % len(EVENTS)]
            yield _line(enc, at, "track", ev, TOOLS[(u * 3 + k) % len(TOOLS)], f"user-{u}", anon)


def worst_lines(n: int) -> Iterator[bytes]:
    """20,000 users, each event 1.5 h after the user's previous one: a new session per event."""
    enc = msgspec.json.Encoder()
    for i in range(n):
        at = START + timedelta(milliseconds=i * 80_000_000 // n)
        name = f"Event {i % 12}"
        user = f"user-{(i * 7919) % 20000}"
        yield _line(enc, at, "track", name, f"tool-{i % 25}", user, str(uuid.UUID(int=i % 20000)))


WORKLOADS: dict[str, Callable[[int], Iterator[bytes]]] = {"realistic": realistic_lines, "worst": worst_lines}


def write_log(log_dir: Path, lines: Iterator[bytes]) -> tuple[int, int]:
    log_dir.mkdir(parents=True)
    files = [open(log_dir / f"events-20261125.w{i}.jsonl", "wb") for i in range(2)]  # noqa: SIM115
    size = count = 0
    for line in lines:
        files[count % 2].write(line)
        size += len(line)
        count += 1
    for f in files:
        f.close()
    return count, size


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_backend_pid(store: object) -> int | None:
    conn = getattr(store, "_conn", None)
    if conn is None:
        return None
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    pid = int(row[0])
    return pid if Path(f"/proc/{pid}/stat").exists() else None


def tail_all(url: str, log_dir: Path, stop_at: dict[str, int] | None = None) -> None:
    """Tail the log (up to ``stop_at`` per file when given) without timing: the warm-up."""
    store = open_realtime_store(url)
    tailer = Tailer("realtime", log_dir, RealtimeTarget(store, log_dir=log_dir), LoggedEvent)
    while True:
        assert tailer.step() > 0
        cp = tailer.checkpoint or {}
        if stop_at is None or all(cp.get(f, 0) >= o for f, o in stop_at.items()):
            break
    store.close()


def timed_tail(label: str, url: str, log_dir: Path, n: int) -> dict[str, float]:
    store = open_realtime_store(url)
    backend = pg_backend_pid(store)
    tailer = Tailer(
        "realtime",
        log_dir,
        RealtimeTarget(store, log_dir=log_dir),
        LoggedEvent,
        BATCH_LINES,
        catch_up_lines=CATCH_UP_LINES,
    )
    before = tailer.target.load_checkpoint("realtime")
    load0 = os.getloadavg()[0]
    cpu0, pg0 = time.process_time(), proc_cpu(backend) if backend else 0.0
    started = time.perf_counter()
    tailer.run(threading.Event(), until_caught_up=True, max_failures=3)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    pg_cpu = (proc_cpu(backend) - pg0) if backend else 0.0
    applied = tailer.status.applied_events
    assert applied == n, f"applied {applied} lines, expected {n} (from {before})"
    store.close()
    load = max(load0, os.getloadavg()[0])
    pg_note = f", PG backend {pg_cpu / n * 1e6:5.1f}" if backend else ""
    print(
        f"  {label:<28} {n:>8} ev in {elapsed:6.2f} s = {n / elapsed:>9,.0f} events/s;"
        f" CPU us/event: tailer {cpu / n * 1e6:5.1f}{pg_note}; load {load:.2f}"
    )
    return {"events_per_s": n / elapsed, "cpu_us": cpu / n * 1e6, "load": load}


@contextmanager
def pg_database() -> Iterator[Callable[[], str] | None]:
    """A factory of fresh databases (dropped at the end), or None when no server answers."""
    import psycopg

    given = os.environ.get("HEADWATER_BENCH_PG_URL")
    if given:
        yield lambda: given
        return
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    made: list[str] = []
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=2):
            pass
    except Exception as exc:
        print(f"postgresql skipped: {exc}")
        yield None
        return

    def fresh() -> str:
        name = f"hw_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"'.encode())
        made.append(name)
        return admin.rsplit("/", 1)[0] + "/" + name

    try:
        yield fresh
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            for name in made:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def file_offsets(log_dir: Path, fraction: float) -> dict[str, int]:
    """Per file, the offset of the first line boundary after ``fraction`` of its size."""
    out = {}
    for path in sorted(log_dir.glob("events-*.jsonl")):
        data = path.read_bytes()
        cut = data.index(b"\n", int(len(data) * fraction)) + 1
        out[path.name] = cut
    return out


def lines_after(log_dir: Path, offsets: dict[str, int]) -> int:
    return sum(p.read_bytes()[offsets[p.name] :].count(b"\n") for p in log_dir.glob("events-*.jsonl"))


def apply_rates(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, pg_database() as pg:
        for workload in args.workload or ["realistic", "worst"]:
            log_dir = Path(tmp) / workload
            n, size = write_log(log_dir, WORKLOADS[workload](args.events))
            print(f"{workload}: {n} events, {size / n:.0f} bytes/line, 2 writers")
            urls: dict[str, Callable[[], str]] = {}
            if "sqlite" in args.store:

                def sqlite_url(w: str = workload) -> str:
                    return f"sqlite:///{tmp}/{w}-{uuid.uuid4().hex[:6]}.sqlite3"

                urls["sqlite"] = sqlite_url
            if "postgresql" in args.store and pg is not None:
                urls["postgresql"] = pg
            for label, make_url in urls.items():
                timed_tail(f"{label} full tail", make_url(), log_dir, n)
                if workload == "realistic":
                    url = make_url()
                    warm = file_offsets(log_dir, 0.2)
                    tail_all(url, log_dir, stop_at=warm)
                    store = open_realtime_store(url)
                    rest = n - sum(int(store.daily(d).events) for d in {START.date()})
                    store.close()
                    timed_tail(f"{label} steady (last 80 %)", url, log_dir, rest)
    print(f"load average (1, 5, 15 min): {os.getloadavg()}  cores: {os.cpu_count()} (shared)")


def _scenario_script(name: str, key: str) -> tuple[str, int, int]:
    """(wrk Lua script, connections, events per request) of bench_collector.py's scenario."""
    from bench.bench_collector import lua_script, realistic_event

    if name == "batch":
        body = json.dumps({"batch": [realistic_event(i) for i in range(100)], "sentAt": None})
        body = body.replace('"sentAt": null', '"sentAt": "2026-11-25T10:00:00.100Z"')
        return lua_script("/v1/batch", body, key, unique_ids=False), 16, 100
    if name == "track":
        ev = realistic_event(7)
        ev["messageId"] = "__MID__"
        return lua_script("/v1/track", json.dumps(ev), key, unique_ids=True), 32, 1
    api_ev = {"event_type": "Tool Used", "user_id": "user-7", "tool_id": "editor", "message_id": "__MID__"}
    return lua_script("/api/events", json.dumps(api_ev), key, unique_ids=True), 32, 1


TAILERS = ("tailer_realtime", "live", "audiences")  # the readyz checks of the three tailers


def lag_under_collector_load(args: argparse.Namespace) -> int:
    """Serve, run bench_collector's scenarios with wrk, sample every tailer's lag on /readyz."""
    import httpx
    from bench.server_cpu import cpu_seconds
    from bench.server_cpu import group_pids as server_pids
    from tests.helpers import Server, create_key
    from tests.redis_services import RedisServer

    if shutil.which("wrk") is None:
        print("wrk is not installed")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-lag-"))
    env = {"HEADWATER_FSYNC": "always"}
    redis_srv = None
    if args.workers > 1:  # several workers share the live store: a private Redis
        redis_srv = RedisServer(tmp / "redis").start()
        env["HEADWATER_REDIS_URL"] = redis_srv.url
    ok = True
    with pg_database() as pg:
        if "postgresql" in (args.store or []):
            if pg is None:
                print("no PostgreSQL answers: --store postgresql cannot run")
                return 2
            env["HEADWATER_DATABASE_URL"] = pg()
        srv = Server(tmp / "data", workers=args.workers, env=env)
        try:
            srv.start(timeout=60)
            key = create_key(srv.data_dir, "bench", env=env)  # in the database when one is configured
            for name in args.scenario or ["batch", "track", "api"]:
                ok &= _lag_run(srv, key, name, args, tmp, httpx, cpu_seconds, server_pids)
        finally:
            srv.stop()
            if redis_srv is not None:
                redis_srv.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def _lag_run(srv, key, name, args, tmp, httpx, cpu_seconds, server_pids) -> bool:  # type: ignore[no-untyped-def]
    script_text, conns, per_request = _scenario_script(name, key)
    conns = args.connections or conns
    script = tmp / f"{name}.lua"
    script.write_text(script_text)
    samples: list[tuple[float, dict[str, float]]] = []
    stop = threading.Event()

    def lags() -> dict[str, float]:
        checks = httpx.get(srv.url + "/readyz", headers=srv.admin_headers, timeout=2).json()["checks"]
        return {t: float(checks.get(t, {}).get("lag_seconds", 0.0)) for t in TAILERS if t in checks}

    def states() -> dict[str, str]:
        checks = httpx.get(srv.url + "/readyz", headers=srv.admin_headers, timeout=2).json()["checks"]
        return {t: str(checks[t].get("state")) for t in TAILERS if t in checks}

    def sample() -> None:
        while not stop.is_set():
            with suppress(httpx.HTTPError, KeyError, ValueError):
                samples.append((time.monotonic(), lags()))
            stop.wait(0.25)

    def applied() -> dict[str, int]:
        checks = httpx.get(srv.url + "/readyz", headers=srv.admin_headers, timeout=2).json()["checks"]
        return {t: int(checks[t].get("applied_events", 0)) for t in TAILERS if t in checks}

    applied0 = applied()
    pids = server_pids(srv.proc.pid)
    cpu0 = cpu_seconds(pids)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load0 = os.getloadavg()[0]
    threads = min(2, conns)
    from bench.server_cpu import as_client

    cmd = as_client(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{args.duration}s", "-s", str(script), srv.url], args.workers
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wrk_end = time.monotonic()
    caught_up = None
    while time.monotonic() < wrk_end + 120:  # after the load: how long until every tailer caught up
        try:
            if all(v == "caught_up" for v in states().values()):
                caught_up = time.monotonic() - wrk_end
                break
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    stop.set()
    sampler.join(5)
    cpu = cpu_seconds(pids) - cpu0
    load = max(load0, os.getloadavg()[0])
    rps = float(out.split("Requests/sec:")[1].split()[0])
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if refused:  # a refused request is no event: the rate would be a lie
        print(f"{name}: {refused.group(1)} requests were refused (non-2xx); the run does not count")
        return False
    print(
        f"{name}: collector {rps * per_request:,.0f} events/s accepted ({args.workers} workers,"
        f" fsync=always, wrk -c{conns} {args.duration} s); server CPU {cpu:.1f} s; load {load:.2f}"
    )
    # a stuck tailer would keep showing its last lag: every accepted event must have been applied
    done = re.search(r"(\d+) requests in", out)
    accepted = int(done.group(1)) * per_request if done else 0
    good = True
    # a worker's /readyz shows the background process's status file, written at most once a second
    deadline = time.monotonic() + 5
    while True:
        short = {t: n - applied0.get(t, 0) for t, n in applied().items() if n - applied0.get(t, 0) < accepted}
        if not short or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    for tailer, count in short.items():
        print(f"  {tailer} applied {count:,} events of {accepted:,} accepted")
        good = False
    for tailer in TAILERS:
        during = [lag[tailer] for at, lag in samples if at <= wrk_end and tailer in lag]
        if not during:
            continue
        worst = max(during)
        good &= tailer != "tailer_realtime" or worst < 2.0
        print(
            f"  {tailer:<17} lag_seconds during load: max {worst:.2f}, p50 {statistics.median(during):.2f},"
            f" p90 {sorted(during)[int(len(during) * 0.9)]:.2f} ({len(during)} samples, every 0.25 s)"
        )
    print(
        f"  all caught up {caught_up:.2f} s after the load stopped"
        if caught_up is not None
        else "  never caught up"
    )
    return good


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--store", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--lag", action="store_true", help="measure the lag under the collector benchmark's load")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument(
        "--connections",
        type=int,
        help="with --lag: wrk connections (fewer: a lighter load than the benchmark's)",
    )
    ap.add_argument("--workers", type=int, default=2, help="with --lag: server workers (2: a private Redis)")
    ap.add_argument("--scenario", action="append", choices=["batch", "track", "api"], help="with --lag")
    ap.add_argument("--default-gc", action="store_true", help="keep Python's GC settings (no tune_gc)")
    args = ap.parse_args()
    if args.lag:
        return lag_under_collector_load(args)
    args.store = args.store or ["sqlite", "postgresql"]
    if not args.default_gc:
        tune_gc()  # what `headwater serve` does at start: the tailer runs under the same GC settings
    apply_rates(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
