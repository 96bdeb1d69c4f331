"""End-to-end OpenRTB enrichment and the nightly audience recompute (issue 7's targets).

1. ``POST /openrtb2/enrich`` on a real ``headwater serve`` with a private Redis as the live store,
   loaded by wrk on the same machine: typical 2-4 KB requests (site, device with an IFA, a user
   with a TCF consent string granting purposes 1-4 and 7), each for one of 10,000 users in 2-5
   audiences. Prints wrk's throughput and latency, the server-side p99 (from the endpoint's
   histogram) and the outcome counts. Target: >= 3,000 req/s with server p99 < 5 ms.
2. The nightly recompute over a synthetic lake (``--users``, default 1,000,000; 3 events each) in
   DuckDB + the shared evaluator, then the reconciliation into Redis. Target: < 60 s.

    .venv/bin/python bench/bench_openrtb.py [--workers 2] [--seconds 10] [--users 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.server_cpu import CpuMeter, as_client, wait_quiet  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.redis_services import RedisServer  # noqa: E402
from tests.targeting.encoding import tcf_core  # noqa: E402

AUDIENCES = [
    {
        "id": f"a{i}",
        "name": f"Audience {i}",
        "taxonomy_id": str(700 + i),
        "sendable_to_buyers": True,
        "rule": {"event": "Order Completed", "min_count": 1 + i % 3, "within_days": 30},
    }
    for i in range(6)
] + [
    {
        "id": "big",
        "name": "Big orders",
        "proprietary_id": "hw-big",
        "sendable_to_buyers": True,
        "rule": {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 50}]},
    },
    {
        "id": "lapsed",
        "name": "Lapsed",
        "sendable_to_buyers": True,
        "rule": {"event": "Login", "not_within_days": 7},
    },
]
USERS = 10_000
ADMIN_TOKEN = "bench"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # /metrics wants it


def typical_request(user: str, rng: random.Random) -> dict[str, Any]:
    """A 2-4 KB banner request as exchanges send them."""
    return {
        "id": f"req-{rng.getrandbits(48):x}",
        "imp": [
            {
                "id": str(n),
                "tagid": f"slot-{n}",
                "bidfloor": 0.25 * n,
                "bidfloorcur": "USD",
                "secure": 1,
                "banner": {
                    "w": 300,
                    "h": 250,
                    "format": [{"w": 300, "h": 250}, {"w": 320, "h": 50}],
                    "pos": 1,
                },
                "ext": {"gpid": f"/1234/home/slot-{n}", "data": {"pbadslot": f"/1234/home/slot-{n}"}},
            }
            for n in range(1, 4)
        ],
        "site": {
            "id": "site-42",
            "domain": "news.example.com",
            "page": "https://news.example.com/a/b/c.html",
            "ref": "https://search.example.org/?q=news",
            "cat": ["IAB12"],
            "keywords": "news,world,sport",
            "publisher": {"id": "pub-7", "name": "Example News", "domain": "example.com"},
            "content": {"language": "en", "title": "A typical article title about things"},
        },
        "device": {
            "ua": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "ip": "203.0.113.7",
            "ifa": f"ifa-{user}",
            "devicetype": 4,
            "make": "Apple",
            "model": "iPhone",
            "os": "iOS",
            "osv": "17.0",
            "language": "en",
            "geo": {"country": "FRA", "type": 2},
        },
        "user": {
            "id": f"exch-{user}",
            "buyeruid": f"buyer-{user}",
            "consent": tcf_core({1, 2, 3, 4, 7}),
            "data": [{"id": "other", "name": "other.example", "segment": [{"id": "s1"}, {"id": "s2"}]}],
            "eids": [{"source": "id5-sync.com", "uids": [{"id": f"ID5-{user}", "atype": 1}]}],
        },
        "regs": {"gdpr": 1, "ext": {"dsa": {"dsarequired": 1}}},
        "at": 1,
        "tmax": 120,
        "cur": ["USD"],
        "source": {"tid": f"tid-{rng.getrandbits(40):x}"},
        "ext": {"prebid": {"targeting": {"pricegranularity": "medium"}}},
    }


def hw(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "headwater", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def seed_live(redis_url: str, users: int) -> None:
    from headwater.audiences.state import AudienceState
    from headwater.stores.live import open_live
    from headwater.stores.live.ports import StoreOptions

    state = AudienceState.open(open_live(redis_url), StoreOptions())
    ids: dict[str, str] = {}
    for i in range(users):
        user = f"u{i}"
        ids[f"exch-{user}"] = user
    state.ids.map_ids(ids)
    for n, audience in enumerate(AUDIENCES):
        state.membership.add_members(str(audience["id"]), [f"u{i}" for i in range(users) if (i + n) % 3 != 0])
    state.close()


def _buckets(metrics: str) -> dict[float, float]:
    """le -> cumulative count, summed over every worker's series."""
    out: dict[float, float] = {}
    for m in re.finditer(
        r'headwater_openrtb_enrich_seconds_bucket\{[^}]*le="([0-9.e+-]+|\+Inf)"[^}]*\} ([0-9.e+]+)', metrics
    ):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        out[le] = out.get(le, 0.0) + float(m.group(2))
    return out


def server_quantile(before: str, after: str, q: float) -> str:
    """The q-quantile bucket of the endpoint's own histogram over the run alone (after - before)."""
    b0, b1 = _buckets(before), _buckets(after)
    diff = sorted((le, c - b0.get(le, 0.0)) for le, c in b1.items())
    total = max((c for _, c in diff), default=0.0)
    for le, count in diff:
        if total and count >= q * total:
            return f"<= {le * 1000:g} ms" if le != float("inf") else "> largest bucket"
    return "n/a"


def bench_http(workers: int, seconds: int, tmp: Path) -> None:
    redis = RedisServer(tmp / "redis").start()
    redis_url = redis.url
    port = free_port()
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(tmp / "data"),
        "HEADWATER_PORT": str(port),
        "HEADWATER_WORKERS": str(workers),
        "HEADWATER_REDIS_URL": redis_url,
        "HEADWATER_WRITER_ID": "b",
        "HEADWATER_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    key = hw(env, "audiences", "keys", "create", "bench").split()[-1]
    hw(env, "audiences", "settings", "provider", "headwater.example")
    for audience in AUDIENCES:
        hw(env, "audiences", "create", json.dumps(audience))
    seed_live(redis_url, USERS)
    rng = random.Random(7)
    bodies = [json.dumps(typical_request(f"u{rng.randrange(USERS)}", rng)) for _ in range(200)]
    sizes = sorted(len(b) for b in bodies)
    script = tmp / "enrich.lua"
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\nlocal bodies = {{{lua_bodies}}}\n'
        "local i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
        '  return wrk.format(nil, "/openrtb2/enrich", nil, bodies[i])\nend\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "headwater", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        check = httpx.post(
            url + "/openrtb2/enrich", content=bodies[0], headers={"Authorization": f"Bearer {key}"}
        )
        if check.headers["x-headwater-enrichment"] != "enriched":
            print(f"   warning: warm-up requests not enriched ({check.headers['x-headwater-enrichment']})")
        subprocess.run(
            as_client(["wrk", "-t1", "-c16", "-d3s", "-s", str(script), url], workers), capture_output=True
        )  # warm-up
        wait_quiet(server.pid)  # the tailers caught up with the log
        before = httpx.get(url + "/metrics", headers=ADMIN).text
        meter = CpuMeter(server.pid)
        meter.start()
        out = subprocess.run(
            as_client(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url], workers),
            capture_output=True,
            text=True,
        ).stdout
        cpu = meter.stop()
        load = os.getloadavg()
        metrics = httpx.get(url + "/metrics", headers=ADMIN).text
        m = re.search(r"(\d+) requests in", out)
        requests = int(m.group(1)) if m else 0
        outcomes = dict(re.findall(r'headwater_openrtb_enrich_total\{reason="(\w+)"\} ([0-9.e+]+)', metrics))
        print(
            f"\n-- POST /openrtb2/enrich: {workers} worker(s), Redis live store, wrk -t1 -c16 -d{seconds}s "
            f"(same 2 cores); bodies {sizes[0]}-{sizes[-1]} bytes"
        )
        for line in out.splitlines():
            if re.search(r"Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors|requests in", line):
                print("   " + line.strip())
        print(
            f"   server-side (endpoint histogram, this run only): p50 {server_quantile(before, metrics, 0.5)}"
            f"  p99 {server_quantile(before, metrics, 0.99)}"
        )
        print(f"   server CPU: {cpu * 1e6 / max(requests, 1):.0f} us/request ({len(meter.pids)} processes)")
        print(f"   outcomes (cumulative): {outcomes}")
        print(f"   load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        redis.stop()


def make_lake(data_dir: Path, users: int) -> None:
    """3 events per user over the last 20 days, written as the ETL writes the lake."""
    from headwater.lake.sql import connect, quote

    day = datetime.now(UTC).date() - timedelta(days=1)
    out = data_dir / "lake" / "events" / f"date={day}"
    out.mkdir(parents=True, exist_ok=True)
    con = connect()
    con.execute(f"""COPY (
        SELECT 'm' || i AS message_id, 'track' AS type,
               CASE WHEN i % 3 = 2 THEN 'Login' ELSE 'Order Completed' END AS event,
               NULL::VARCHAR AS tool_id, 'u' || (i // 3) AS user_id, NULL::VARCHAR AS anonymous_id,
               NULL::VARCHAR AS previous_id, 'u' || (i // 3) AS actor,
               TIMESTAMPTZ '{datetime.now(UTC):%Y-%m-%d %H:%M:%S}+00' - to_seconds(i % 1728000) AS ts,
               ('{{"total": ' || (i % 97) || '}}')::JSON AS properties, NULL::JSON AS traits,
               NULL::JSON AS context
        FROM range({users * 3}) t(i)
    ) TO {quote(str(out / f"recv-{day:%Y%m%d}.parquet"))} (FORMAT parquet)""")
    con.close()


def bench_recompute(users: int, tmp: Path, write: bool) -> None:
    """compute + reconcile; with ``write`` the reconciliation fills an empty Redis (id map, stamps,
    members), otherwise it is a dry run (reads the live membership, reports the drift)."""
    from headwater.audiences.nightly import compute, reconcile
    from headwater.audiences.state import AudienceState
    from headwater.stores.live import open_live
    from headwater.stores.live.ports import StoreOptions
    from headwater.targeting.audience_spec import parse_audience
    from headwater.targeting.membership import CompiledAudiences

    data_dir = tmp / f"lake-{users}"
    started = time.monotonic()
    make_lake(data_dir, users)
    made = time.monotonic() - started
    compiled = CompiledAudiences(parse_audience(a) for a in AUDIENCES)
    redis = RedisServer(tmp / "redis").start()
    redis_url = redis.url
    try:
        started = time.monotonic()
        result = compute(data_dir, compiled)
        computed = time.monotonic() - started
        state = AudienceState.open(open_live(redis_url), StoreOptions())
        started = time.monotonic()
        drift = reconcile(state, compiled, result, dry_run=not write)
        reconciled = time.monotonic() - started
    finally:
        redis.stop()
    load = os.getloadavg()
    sizes = {aid: len(m) for aid, m in result.members.items()}
    seconds = {k: round(v, 2) for k, v in result.seconds.items()}
    print(
        f"\n-- nightly recompute: {len(result.users):,} users, {users * 3:,} events, "
        f"{len(AUDIENCES)} audiences (lake written in {made:.1f} s)"
    )
    print(f"   compute (DuckDB + evaluator): {computed:.1f} s  {seconds}")
    what = "written into an empty Redis (id map, stamps, members)" if write else "dry run against Redis"
    print(f"   reconcile, {what}: {reconciled:.1f} s; drift {sum(len(d.missing) for d in drift.values()):,}")
    print(f"   total: {computed + reconciled:.1f} s (target < 60 s); sizes {sizes}")
    print(f"   load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--write-users", type=int, default=50_000, help="users of the run that writes Redis")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-recompute", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus {os.cpu_count()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-openrtb-"))
    try:
        if not args.skip_http:
            for workers in args.workers:
                run_dir = tmp / f"http-{workers}"
                run_dir.mkdir()
                bench_http(workers, args.seconds, run_dir)
        if not args.skip_recompute:
            bench_recompute(args.users, tmp, write=False)
            bench_recompute(args.write_users, tmp, write=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
