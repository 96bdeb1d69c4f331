"""Geo at collection (docs/collector.md, "Geography"): what the country and region lookup adds to the
collector's normalizer per event, and what it costs each worker process in memory.

Three modes, timed in the same run, interleaved round by round (the median of the rounds):

  off      HEADWATER_GEOIP=false: no lookup
  builtin  the default: the built-in country lookup (iptocc)
  mmdb     a MaxMind City database (--mmdb PATH, e.g. a GeoLite2-City.mmdb; without it, one written
           here with mmdb-writer: 20,000 networks, records shaped like GeoLite2-City's, names in
           eight languages, so a record decodes at the real cost)

over two kinds of traffic: ``distinct`` (every event from another public address: no cache helps,
neither geo's nor the IP policy's) and ``visitors`` (5,000 visitors, each always from the same
address, as a browser's events come). The events are analytics.js track calls with context (page,
user agent, library), normalized by the collector's Normalizer with the default IP policy
(truncate); the time is the normalizer's alone (the JSON is decoded before the clock starts, as the
collector has decoded it). The lookup alone (events/geo.py's ``locate``, the whole of what geo adds
to the normalizer) is timed too: the difference of two normalizer runs is within the noise of a
shared machine.

Memory: for each mode, two processes (as two HTTP workers) each open the lookup, look up 50,000
distinct addresses, then report their RSS, PSS (shared pages divided between them) and private
memory; the figures above ``off`` are what geo costs each worker (its code, its data, its cache).

    .venv/bin/python bench/bench_geo.py [--events 100000] [--rounds 5] [--mmdb PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from headwater.events.geo import GeoLookup, locate
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.wiring import tune_gc

UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MODES = ("off", "builtin", "mmdb")
LANGUAGES = ("de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN")
VISITORS = 5000


#: allocated IPv6 /32s (a few large networks' and access providers'), for the IPv6 tenth of the traffic
V6_PREFIXES = ("2001:4860", "2a00:1450", "2400:cb00", "2600:1f18", "2a03:2880", "2001:2d8", "2a01:e0a")


def public_ip(rng: random.Random) -> str:
    """A random address outside the private and reserved ranges (IPv6 one time in ten)."""
    if rng.random() < 0.1:
        groups = (rng.randrange(65536) for _ in range(3))
        return "{}:{:x}:{:x}::{:x}".format(rng.choice(V6_PREFIXES), *groups)
    while True:
        first = rng.randrange(1, 224)
        if first not in (10, 127, 100, 169, 172, 192, 198, 203):
            return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def events(n: int, kind: str, seed: int = 7) -> list[bytes]:
    """``n`` events as JSON, each with the client's address in context.ip (as a server SDK forwards it)."""
    rng = random.Random(seed)
    visitors = [public_ip(rng) for _ in range(VISITORS)]
    encode = msgspec.json.Encoder().encode
    out = []
    for i in range(n):
        ip = public_ip(rng) if kind == "distinct" else visitors[i % VISITORS]
        out.append(
            encode(
                {
                    "type": "track",
                    "event": "Tool Used",
                    "userId": f"user-{i % VISITORS}",
                    "properties": {"tool_id": "editor", "duration_ms": 1200 + i % 700},
                    "context": {
                        "ip": ip,
                        "library": {"name": "analytics.js", "version": "2.1.0"},
                        "page": {"path": "/app/editor", "url": "https://app.example.com/app/editor"},
                        "userAgent": UA,
                        "locale": "en-US",
                    },
                }
            )
        )
    return out


def write_city(path: Path) -> Path:
    """A City database in GeoLite2-City's layout (the test extra's mmdb-writer): the public IPv4
    space in /15 networks and the IPv6 of V6_PREFIXES in /48s, each network a record of its own."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPNetwork, IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    countries = [("DE", "HE"), ("US", "CA"), ("KR", "11"), ("FR", "IDF"), ("JP", "13"), ("BR", "SP")]

    def names(text: str) -> dict[str, str]:
        return {lang: f"{text} ({lang})" for lang in LANGUAGES}

    networks = [IPNetwork((n << 17, 15)) for n in range(1 << 15) if 1 <= n >> 7 < 224]
    networks += [IPNetwork(f"{prefix}:{k:x}::/48") for prefix in V6_PREFIXES for k in range(0, 65536, 64)]
    for i, network in enumerate(networks):
        country, sub = countries[i % len(countries)]
        record = {
            "city": {"geoname_id": i, "names": names(f"City {i}")},
            "continent": {"code": "EU", "geoname_id": 6255148, "names": names("Europe")},
            "country": {"geoname_id": 2921044, "iso_code": country, "names": names(country)},
            "location": {
                "accuracy_radius": 20,
                "latitude": 50.1,
                "longitude": 8.6,
                "time_zone": "Europe/Berlin",
            },
            "postal": {"code": f"{i % 99999:05d}"},
            "registered_country": {"geoname_id": 2921044, "iso_code": country, "names": names(country)},
            "subdivisions": [{"geoname_id": 2905330, "iso_code": sub, "names": names(sub)}],
        }
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def normalizer(mode: str, mmdb: Path) -> Normalizer:
    if mode == "off":
        return Normalizer()
    if mode == "builtin":
        from headwater.geo.builtin import BuiltinCountries

        return Normalizer(geo=BuiltinCountries())
    from headwater.geo.mmdb import MaxMindDatabase

    return Normalizer(geo=MaxMindDatabase.open(str(mmdb)))


def time_mode(norm: Normalizer, encoded: list[bytes]) -> tuple[float, int]:
    """Microseconds per event of the normalizer over fresh copies of the events; events located."""
    decode = msgspec.json.Decoder().decode
    batch = [decode(raw) for raw in encoded]
    req = RequestInfo(received_at=datetime.now(UTC), source="bench", ip="127.0.0.1")
    normalize = norm.normalize
    gc.collect()
    start = time.perf_counter()
    for raw in batch:
        normalize(raw, req)
    elapsed = time.perf_counter() - start
    located = sum(1 for raw in batch if "location" in raw["context"])
    return elapsed / len(batch) * 1e6, located


def time_lookups(geo: GeoLookup | None, ips: list[str]) -> float:
    """Microseconds per event of the lookup alone (events/geo.py's locate into a fresh context)."""
    if geo is None:
        return 0.0
    contexts: list[dict[str, Any]] = [{} for _ in ips]
    gc.collect()
    start = time.perf_counter()
    for context, ip in zip(contexts, ips, strict=True):
        locate(context, ip, geo)
    return (time.perf_counter() - start) / len(ips) * 1e6


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and private memory (MB) of a process, from /proc/PID/smaps_rollup."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {
        "rss_mb": round(fields.get("Rss", 0) / 1024, 1),
        "pss_mb": round(fields.get("Pss", 0) / 1024, 1),
        "private_mb": round(private / 1024, 1),
    }


def child(mode: str, mmdb: Path) -> None:
    """A worker's share: the lookup of ``mode`` (none for off) after 50,000 distinct addresses,
    looked up one by one (what remains is the lookup's: its code, data and cache); waits for stdin
    to close."""
    geo = normalizer(mode, mmdb).geo
    rng = random.Random(os.getpid())
    for _ in range(50_000):
        ip = public_ip(rng)
        if geo is not None:
            geo.lookup(ip)
    print("ready", flush=True)
    sys.stdin.read()


def measure_memory(mode: str, mmdb: Path) -> list[dict[str, float]]:
    cmd = [sys.executable, __file__, "--child", mode, "--mmdb", str(mmdb)]
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        return [memory(p.pid) for p in procs]
    finally:
        for p in procs:
            assert p.stdin is not None
            p.stdin.close()
            p.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mmdb", type=Path, help="a MaxMind City database (default: one written here)")
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.mmdb)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        mmdb = args.mmdb or write_city(Path(tmp) / "City.mmdb")
        tune_gc()  # as a server process runs (wiring.py): young collections rare
        load_before = [round(x, 2) for x in os.getloadavg()]
        norms = {mode: normalizer(mode, mmdb) for mode in MODES}
        results: dict[str, Any] = {
            "events": args.events,
            "rounds": args.rounds,
            "mmdb_bytes": mmdb.stat().st_size,
        }
        for kind in ("distinct", "visitors"):
            encoded = events(args.events, kind)
            ips = [msgspec.json.decode(raw)["context"]["ip"] for raw in encoded]
            for mode in MODES:  # a warm-up round: caches as a running worker has them
                time_mode(norms[mode], encoded)
            times: dict[str, list[float]] = {mode: [] for mode in MODES}
            alone: dict[str, list[float]] = {mode: [] for mode in MODES}
            located: dict[str, int] = {}
            for _ in range(args.rounds):
                for mode in MODES:
                    us, located[mode] = time_mode(norms[mode], encoded)
                    times[mode].append(us)
                    alone[mode].append(time_lookups(norms[mode].geo, ips))
            off = statistics.median(times["off"])
            results[kind] = {
                mode: {
                    "us_per_event": round(statistics.median(times[mode]), 2),
                    "added_us": round(statistics.median(times[mode]) - off, 2),
                    "lookup_us": round(statistics.median(alone[mode]), 2),
                    "located_share": round(located[mode] / args.events, 3),
                }
                for mode in MODES
            }
        results["memory"] = {mode: measure_memory(mode, mmdb) for mode in MODES}
        results["loadavg_before"] = load_before
        results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "geo.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"load average {results['loadavg_before']} -> {results['loadavg_after']}")
    for kind in ("distinct", "visitors"):
        for mode in MODES:
            r = results[kind][mode]
            print(
                f"{kind:9} {mode:8} normalizer {r['us_per_event']:6.2f} us/event ({r['added_us']:+.2f} us"
                f" over off), the lookup alone {r['lookup_us']:.2f} us; {r['located_share']:.0%} located"
            )
    for mode in MODES:
        print(f"memory {mode:8} per process: {results['memory'][mode]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
