"""Tailer apply rate into SQLite and PostgreSQL (targets: 100,000 and 150,000 events/s).

Writes N realistic log lines (2 writers, 20,000 users, sessions, ~600 bytes each) into a temporary
log folder, then times a full tail into each store. PostgreSQL: HEADWATER_BENCH_PG_URL, else the
local server on 127.0.0.1:5432 as postgres (a throwaway database), else skipped.
Usage: .venv/bin/python bench/bench_tailer.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from headwater.log.tailer import Tailer
from headwater.stores.realtime import open_realtime_store
from headwater.stores.realtime.target import LoggedEvent, RealtimeTarget


def write_log(log_dir: Path, n: int) -> int:
    log_dir.mkdir(parents=True)
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    enc = msgspec.json.Encoder()
    files = [open(log_dir / f"events-20261125.w{i}.jsonl", "wb") for i in range(2)]  # noqa: SIM115
    size = 0
    for i in range(n):
        at = start + timedelta(milliseconds=i * 80_000_000 // n)
        ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        ev = {
            "type": "track",
            "event": f"Event {i % 12}",
            "userId": f"user-{(i * 7919) % 20000}",
            "anonymousId": str(uuid.UUID(int=i % 20000)),
            "properties": {"tool_id": f"tool-{i % 25}", "value": i, "path": "/app/editor"},
            "messageId": uuid.uuid4().hex,
            "timestamp": ts,
            "receivedAt": ts,
            "context": {"library": {"name": "analytics-python", "version": "2.4.0"}, "ip": "203.0.113.0"},
            "_hw": {
                "source": "bench",
                "bot": False,
                "event_type": f"Event {i % 12}",
                "tool_id": f"tool-{i % 25}",
            },
        }
        line = enc.encode(ev) + b"\n"
        size += len(line)
        files[i % 2].write(line)
    for f in files:
        f.close()
    return size


def bench(label: str, url: str, log_dir: Path, n: int) -> None:
    store = open_realtime_store(url)
    tailer = Tailer("realtime", log_dir, RealtimeTarget(store), LoggedEvent, max_lines=20_000)
    started = time.perf_counter()
    tailer.run(threading.Event(), until_caught_up=True, max_failures=3)
    elapsed = time.perf_counter() - started
    assert store.daily(datetime(2026, 11, 25).date()).events == n, "not every event was counted"
    store.close()
    print(f"{label:<11} {n} events in {elapsed:6.2f} s = {n / elapsed:>9,.0f} events/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp) / "log"
        size = write_log(log_dir, n)
        print(f"tailer apply rate: {n} events, {size / n:.0f} bytes/line, 2 writers, 20,000 users")
        bench("sqlite", f"sqlite:///{tmp}/rt.sqlite3", log_dir, n)
        pg = os.environ.get("HEADWATER_BENCH_PG_URL")
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        name = f"hw_bench_{uuid.uuid4().hex[:8]}"
        created = False
        if not pg:
            try:
                import psycopg

                with psycopg.connect(admin, autocommit=True, connect_timeout=2) as db:
                    db.execute(f'CREATE DATABASE "{name}"'.encode())
                pg, created = admin.rsplit("/", 1)[0] + "/" + name, True
            except Exception as exc:
                print(f"postgresql  skipped: {exc}")
        if pg:
            try:
                bench("postgresql", pg, log_dir, n)
            finally:
                if created:
                    import psycopg

                    with psycopg.connect(admin, autocommit=True) as db:
                        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())
    print(f"load average (1, 5, 15 min): {os.getloadavg()}  cores: {os.cpu_count()} (shared)")


if __name__ == "__main__":
    main()
