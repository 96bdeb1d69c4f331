"""End-to-end deletion benchmark (issue 17): one person deleted from ``--events`` events over 90
received days (log and lake, monthly archives) by a running server, while clients keep sending.

The data is built by bench_lake_erase.py's generator (``--data DIR`` reuses and keeps it; each run
works on a copy). A real ``headwater serve`` starts on the copy; once its tailers have caught up, a
client posts batches of 50 events as fast as it is answered: its rate is measured for 10 s, then a
SUPPRESS_WITH_DELETE is filed for a user of about the average number of events, and the time until
it is FINISHED is measured with the client still sending (its rate during the deletion is the
second figure). Every step's figures come from the regulation's progress.

    .venv/bin/python bench/bench_privacy.py [--events 2000000] [--data DIR (kept)]

At 50M events the log alone is about 38 GB, too much to copy: ``--prepare`` builds DIR and lets a
server's tailers catch up with it (the realtime store then holds everyone, as on a server that has
been running), and ``--in-place`` runs the deletion on DIR itself (it is consumed: the person is gone
from it afterwards), so the measured run starts caught up on a quiet machine:

    .venv/bin/python bench/bench_privacy.py --events 50000000 --data DIR --prepare
    .venv/bin/python bench/bench_privacy.py --events 50000000 --data DIR --in-place

A server's tailers catch up at 5,000 to 15,000 events/s on this 2-core machine: hours at 50M. With
``--assume-caught-up`` the tailers' checkpoints are set at the end of every log file before the
server starts (the realtime store's, and the live store's for the audiences and live tailers; a
live store that keeps them across restarts is needed: ``--live-url redis://...?namespace=...``),
so the deletion runs against a server with nothing to catch up; the realtime store then holds the
rows of the events its tailer had applied (reported), the rest of history being in the log and
the lake only. The steps that grow with the data (the log's bytes, the lake's files) are the
same either way; the realtime and live steps delete a person's rows by index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from bench_lake_erase import PERSON, build, load, say  # noqa: E402

TOKEN = "bench-privacy-admin-token-0123456789"


class Client(threading.Thread):
    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.sent, self.stop = url, key, 0, threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                batch = [{"type": "track", "event": "Bench", "userId": f"live-{i % 500}",
                          "messageId": str(uuid.uuid4())} for i in range(50)]  # fmt: skip
                if (
                    c.post("/v1/batch", json={"batch": batch}, headers={"X-Write-Key": self.key}).status_code
                    == 200
                ):
                    self.sent += 50


def rate(client: Client, seconds: float) -> float:
    start, t = client.sent, time.monotonic()
    time.sleep(seconds)
    return (client.sent - start) / (time.monotonic() - t)


def assume_caught_up(data: Path, live_url: str) -> str:
    """Set every tailer's checkpoint at the end of every log file (see the module's doc); what the
    realtime store holds, as the bytes its tailer had applied."""
    from headwater.audiences.state import AudienceState
    from headwater.live.service import TAILER_OPTIONS
    from headwater.stores.live import open_live
    from headwater.stores.sql.database import open_database

    ends = {f.name: f.stat().st_size for f in sorted((data / "log").glob("events-*.jsonl"))}
    db = open_database(f"sqlite:///{data / 'realtime.sqlite3'}")
    try:
        with db.tx() as cur:
            cur.execute(
                "SELECT coalesce(sum(file_offset), 0) FROM tail_checkpoints WHERE tailer = 'realtime'"
            )
            applied = int(cur.fetchone()[0])
            cur.execute("INSERT INTO tailers(name) VALUES ('realtime') ON CONFLICT DO NOTHING")
            for name, size in ends.items():
                cur.execute(
                    "INSERT INTO tail_checkpoints(tailer, file, file_offset) VALUES ('realtime', ?, ?)"
                    " ON CONFLICT (tailer, file) DO UPDATE SET file_offset = excluded.file_offset",
                    (name, size),
                )
    finally:
        db.close()
    live = open_live(live_url)
    counters = live.counters(TAILER_OPTIONS)
    state = AudienceState.open(live, TAILER_OPTIONS)
    try:
        state.membership.mark_format()
        for tailer in ("audiences", "live"):
            counters.forget_checkpoint(tailer)
            counters.init_checkpoint(tailer, ends, uuid.uuid4().hex[:16])
    finally:
        counters.close()
        state.close()
    total = sum(ends.values())
    return f"{applied:,} of {total:,} log bytes ({applied / total:.0%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--data", type=Path, default=None, help="a data dir built by this script: reused, kept")
    ap.add_argument("--prepare", action="store_true", help="build --data and catch its tailers up, then stop")
    ap.add_argument("--in-place", action="store_true", help="delete from --data itself instead of a copy")
    ap.add_argument(
        "--assume-caught-up", action="store_true", help="checkpoints at the log's end (see above)"
    )
    ap.add_argument("--live-url", default=None, help="the server's live store (HEADWATER_REDIS_URL)")
    ap.add_argument("--user", default=f"user-{PERSON:06d}", help="the person to delete")
    args = ap.parse_args()
    if (args.prepare or args.in_place) and args.data is None:
        ap.error("--prepare and --in-place need --data DIR")
    say(f"machine: {os.cpu_count()} cores, load average before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="hw-bench-privacy-"))
    data = args.data or work / "data"
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    server = None
    try:
        if not (data / "lake").is_dir():
            say(f"building {args.events:,} events over {args.days} received days (log and lake) ...")
            t = time.monotonic()
            build(data, args.events, args.days)
            report["build_s"] = round(time.monotonic() - t, 1)
        if args.prepare or args.in_place:
            copy = data
        else:
            copy = work / "run"
            shutil.copytree(data, copy)
        env = {**os.environ, "HEADWATER_DATA_DIR": str(copy), "HEADWATER_ADMIN_TOKEN": TOKEN,
               "HEADWATER_PORT": "18731", "HEADWATER_WRITER_ID": "bench"}  # fmt: skip
        if args.live_url:
            env["HEADWATER_REDIS_URL"] = args.live_url
        if args.assume_caught_up:
            if not args.live_url:
                ap.error("--assume-caught-up needs --live-url (a live store that keeps checkpoints)")
            before = report["realtime_checkpoints_were"] = assume_caught_up(copy, args.live_url)
            say(f"  checkpoints set at the log's end; the realtime tailer's were at {before}")
        hw = [sys.executable, "-m", "headwater"]
        key = subprocess.run(
            [*hw, "keys", "create", f"bench-{uuid.uuid4().hex[:8]}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        write_key = key.stdout.strip().splitlines()[-1]
        server = subprocess.Popen(
            [*hw, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url, admin = "http://127.0.0.1:18731", {"Authorization": f"Bearer {TOKEN}"}
        say("waiting for the server's tailers to catch up with the log ...")
        t = time.monotonic()
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server stopped (exit {server.returncode}) before catching up")
            try:
                checks = httpx.get(url + "/readyz", headers=admin, timeout=5).json().get("checks", {})
                if checks.get("tailer_realtime", {}).get("state") == "caught_up":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        report["catch_up_s"] = round(time.monotonic() - t, 1)
        say(f"  caught up in {report['catch_up_s']} s")
        if args.prepare:
            return
        client = Client(url, write_key)
        client.start()
        report["collect_before_events_s"] = round(rate(client, 10))
        before = load()
        t = time.monotonic()
        wanted = {"type": "SUPPRESS_WITH_DELETE", "subject": {"userId": args.user}}
        made = httpx.post(url + "/api/v1/regulations", headers=admin, json=wanted)
        rid, sent = made.json()["id"], client.sent
        while True:
            shown = httpx.get(f"{url}/api/v1/regulations/{rid}", headers=admin, timeout=30).json()
            if shown["status"] not in ("INITIALIZED", "RUNNING"):
                break
            time.sleep(0.5)
        seconds = time.monotonic() - t
        report["deletion"] = {
            "seconds": round(seconds, 1),
            "status": shown["status"],
            "progress": shown["progress"],
            "loadavg_before": before,
            "loadavg_after": load(),
        }
        report["collect_during_events_s"] = round((client.sent - sent) / seconds)
        client.stop.set()
        client.join()
        say(f"  deletion: {shown['status']} in {seconds:.1f} s (load {before} -> {load()})")
        for step in ("plan", "log", "lake", "realtime", "live", "warehouse", "records"):
            state = shown["progress"].get(step) or {}
            figures = {k: v for k, v in state.items() if k in ("seconds", "lines_erased", "files_rewritten",
                       "rows_removed", "hourly_cells", "keys", "status")}  # fmt: skip
            say(f"    {step:<9} {json.dumps(figures, default=str)}")
        say(f"  collection: {report['collect_before_events_s']:,} events/s before,"
            f" {report['collect_during_events_s']:,} events/s during the deletion")  # fmt: skip
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        (results / "privacy.json").write_text(json.dumps(report, indent=2, default=str))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(120)  # a server rebuilding its live counters takes a while to stop
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
