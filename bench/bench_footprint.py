"""Memory: the whole Redis footprint at 10M events a month (target: under Redis Cloud's 30 MB plan),
and the live tailer's in-process state per user-day (the exact unique counts live there).

The month is built as a server would leave it at its end, through the store's own code:

- the live tailer folds the last three days of log (what its 48-hour buckets, and a day more,
  can hold) into a private Redis: counters, exact unique counts, the windows' minutes;
- sticky buckets: every monthly active user exposed to ``--experiments`` experiments
  (StickyBuckets.restore, the documents assignment writes);
- audiences: ``--audiences`` audiences of ``--share`` of the monthly users each, their matching
  event stamps (2 a condition) and an advertising id for half of them (Membership, IdMap).

Then Redis' ``used_memory`` is read before and after, and ``MEMORY USAGE`` of every key, summed by
kind. ``--users-per-day 1000000`` instead folds a day of a million distinct users (3 events each)
through the tailer's state alone, to show the exact counts at that size and their memory.

    .venv/bin/python bench/bench_footprint.py [--events-per-month 10000000] [--mau 40000]
    .venv/bin/python bench/bench_footprint.py --users-per-day 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.redis_services import RedisServer

from headwater.events.timestamps import format_timestamp
from headwater.live.fold import LiveEvent
from headwater.live.state import LiveState
from headwater.live.target import LIVE_TAILER, LiveTarget
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions

TOOLS = ("editor", "viewer", "export")
EVENTS = ("Opened", "Clicked", "Saved", "Shared", "Searched", "Exported", "Commented", "Closed")
OPTIONS = StoreOptions(connect_timeout=5, socket_timeout=60)


def write_days(log_dir: Path, days: int, per_day: int, mau: int, dau: int) -> int:
    """``days`` days of log up to now: ``per_day`` events by ``dau`` users a day drawn from ``mau``;
    a third of the events anonymous-then-identified visitors' (both ids), a tenth anonymous only."""
    log_dir.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(7)
    now = datetime.now(UTC)
    written = 0
    for d in range(days, 0, -1):
        start = now - timedelta(days=d)
        users = rnd.sample(range(mau), dau)
        path = log_dir / f"events-{start:%Y%m%d}.bench.jsonl"
        with open(path, "a") as fh:
            for i in range(per_day):
                at = format_timestamp(start + timedelta(seconds=86_400 * i / per_day))
                u = users[rnd.randrange(dau)]
                kind = u % 10
                ids: dict[str, str] = {"anonymousId": f"anon-{u}"}
                if kind != 0:  # a tenth never sign in
                    ids["userId"] = f"user-{u}"
                tool = TOOLS[u % 3] if rnd.random() < 0.7 else rnd.choice(TOOLS)
                event = rnd.choice(EVENTS)
                record = {
                    "type": "track",
                    "event": event,
                    **ids,
                    "messageId": f"m-{d}-{i}",
                    "timestamp": at,
                    "receivedAt": at,
                    "properties": {"tool_id": tool},
                    "_hw": {"source": "bench", "bot": False, "event_type": event, "tool_id": tool},
                }
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
                written += 1
    return written


def key_kind(key: str) -> str:
    if key.startswith("{"):
        name = key.split("}:", 1)[1]
        return "live checkpoints" if name.startswith("cp:") else "live counters"
    part = key.split(":", 2)[1] if key.count(":") >= 2 else key
    return {
        "sticky": "sticky buckets",
        "sticky-restored": "sticky buckets",
        "aud": "audiences: per user",
        "members": "audiences: per audience",
        "aev": "audiences: stamps",
        "u": "audiences: per user (memberships, stamps)",
        "hid": "id map",
    }.get(part, "other")


def measure_state(state: LiveState) -> int:
    """The bytes the state holds, measured: a copy of it made under tracemalloc (the dedup
    window's arrays are counted by their size)."""
    import pickle

    data = pickle.dumps((state.sets, state.last_seen, state.per_minute, state.links.ids, state.links.checked))
    gc.collect()
    tracemalloc.start()
    copy = pickle.loads(data)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del copy
    return size + state.recent.nbytes()


def footprint(args: argparse.Namespace) -> dict[str, object]:
    per_day = args.events_per_month // 30
    dau = max(1, per_day // args.events_per_user_day)
    work = Path(tempfile.mkdtemp(prefix="hw-footprint-"))
    server = RedisServer(work / "redis").start()
    try:
        client = server.client()
        base_memory = int(client.info("memory")["used_memory"])
        url = f"{server.url}?namespace=hw"
        live = open_live(url)
        log_dir = work / "log"
        lines = write_days(log_dir, 3, per_day, args.mau, dau)
        counters = live.counters(OPTIONS)
        target = LiveTarget(counters, log_dir)
        started = time.perf_counter()
        tailer = Tailer(LIVE_TAILER, log_dir, target, LiveEvent, max_lines=10_000)
        tailer.run(threading.Event(), until_caught_up=True, max_failures=3)
        target.flush()
        tail_seconds = time.perf_counter() - started
        state = target.state
        assert state is not None
        state_bytes = measure_state(state)
        rnd = random.Random(11)
        users = [f"user-{u}" for u in range(args.mau)]
        sticky = live.sticky_buckets(OPTIONS)
        for i in range(0, len(users), 5_000):
            docs = {}
            for user in users[i : i + 5_000]:
                fields = {}
                for e in range(args.experiments):
                    fields[f"exp-{e}__0"] = str(rnd.randrange(2))
                    fields[f"x:exp-{e}__0"] = "1"
                docs[f"id||{user}"] = fields
            sticky.restore(docs)
        sticky.mark_restored()
        membership, ids = live.membership(OPTIONS), live.id_map(OPTIONS)
        for a in range(args.audiences):
            members = rnd.sample(users, int(args.share * len(users)))
            membership.add_members(f"audience-{a}", members)
            for i in range(0, len(members), 5_000):
                chunk = members[i : i + 5_000]
                stamps = {
                    u: {f"c{a}": {f"m-{u}-{a}-{k}": 1_764_000_000_000 + k for k in range(2)}} for u in chunk
                }
                membership.add_stamps(stamps, {f"c{a}": 2})
        ids.map_ids({f"adid-{u}": u for u in users[: len(users) // 2]})
        total = int(client.info("memory")["used_memory"]) - base_memory
        by_kind: dict[str, int] = {}
        keys = 0
        for key in client.scan_iter(count=5_000):
            name = key.decode() if isinstance(key, bytes) else str(key)
            by_kind[key_kind(name)] = by_kind.get(key_kind(name), 0) + int(client.memory_usage(name) or 0)
            keys += 1
        user_days = 3 * dau
        return {
            "events_per_month": args.events_per_month,
            "events_per_day": per_day,
            "dau": dau,
            "mau": args.mau,
            "log_events_folded": lines,
            "tail_seconds": round(tail_seconds, 1),
            "redis_used_memory_mb": round(total / 1e6, 2),
            "redis_keys": keys,
            "redis_mb_by_kind": {k: round(v / 1e6, 2) for k, v in sorted(by_kind.items())},
            "live_counters_bytes_per_user_day": round(by_kind.get("live counters", 0) / user_days, 1),
            "tailer_state_mb": round(state_bytes / 1e6, 1),
            "tailer_state_bytes_per_user_day": round(state_bytes / user_days),
            "tailer_state_memberships": state.members(),
            "target_mb": 30,
            "loadavg": os.getloadavg(),
        }
    finally:
        server.stop()


def million(args: argparse.Namespace) -> dict[str, object]:
    """A day of ``--users-per-day`` distinct users, 3 events each, folded by the tailer's state."""
    from headwater.log.record import LogHw, LogRecord

    n = args.users_per_day
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(days=1)).replace(hour=1, minute=0)  # yesterday 01:00-21:00 UTC: one day
    state = LiveState(UTC)
    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    folded = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    batch = 10_000
    for first in range(0, 3 * n, batch):
        records = []
        for i in range(first, min(first + batch, 3 * n)):
            u = i % n
            at = format_timestamp(start + timedelta(seconds=72_000 * i / (3 * n)))
            tool = TOOLS[u % 3]
            event = EVENTS[i % len(EVENTS)]
            records.append(
                LogRecord(
                    type="track",
                    event=event,
                    messageId=f"m{i}",
                    userId=f"user-{u:07d}",
                    timestamp=at,
                    receivedAt=at,
                    hw=LogHw(event_type=event, tool_id=tool),
                )
            )
        state.fold(records, now)
        folded += len(records)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (counted,) = (len(s) for s in state.sets[f"dn:{start:%Y%m%d}"].values())
    hours = sum(len(s) for name, sets in state.sets.items() if name.startswith("hn:") for s in sets.values())
    return {
        "users_per_day": n,
        "events": folded,
        "distinct_counted": counted,
        "exact": counted == n and hours == 3 * n,  # each user in 3 different hours
        "fold_cpu_us_per_event": round(cpu / folded * 1e6, 2),
        "wall_seconds": round(wall, 1),
        "state_mb": round(state.nbytes() / 1e6, 1),
        "state_bytes_per_user_day": round(state.nbytes() / n),
        "peak_rss_growth_mb": round((rss - rss0) / 1024, 1),
        "loadavg": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events-per-month", type=int, default=10_000_000)
    parser.add_argument("--events-per-user-day", type=int, default=25)
    parser.add_argument("--mau", type=int, default=40_000)
    parser.add_argument("--experiments", type=int, default=2)
    parser.add_argument("--audiences", type=int, default=8)
    parser.add_argument("--share", type=float, default=0.25, help="of the monthly users in each audience")
    parser.add_argument("--users-per-day", type=int, default=0, help="fold a day of this many users instead")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}")
    result = million(args) if args.users_per_day else footprint(args)
    print(json.dumps(result, indent=2))
    out = (
        Path(__file__).parent
        / "results"
        / ("footprint-million.json" if args.users_per_day else "footprint.json")
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
