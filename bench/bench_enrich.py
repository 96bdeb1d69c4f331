"""The pure enrichment path (validate + consent + identity + enrich + encode) on the OpenRTB fixtures.

Per-request microseconds, p50 / p99, over every VALID bid request of the shared fixtures, each run
twice: as it comes (most are stopped by a consent gate: the cheap path) and with a granting TCF
consent string and a known user (the full path: decode, lookup in a dict, enrich, encode). The
issue's end-to-end target (p99 < 5 ms, >= 3,000 req/s) is measured on the HTTP endpoint later.

    .venv/bin/python bench/bench_enrich.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from tests.targeting.encoding import tcf_core
from tests.targeting.fixtures import requests

from headwater.targeting.consent import ConsentPolicy, decide
from headwater.targeting.enrich import Segment, identity_candidates
from headwater.targeting.lookup import StaticLookup
from headwater.targeting.pipeline import apply_segments
from headwater.targeting.validate import parse

PROVIDER = "headwater.example"
SEGMENTS = [Segment(str(i), 4) for i in (782, 14, 1503, 220)] + [Segment("vip")]
POLICY = ConsentPolicy()


def consented(body: bytes) -> bytes:
    request: dict[str, Any] = json.loads(body)
    request.pop("regs", None)
    request.setdefault("device", {}).pop("lmt", None)
    user = request.setdefault("user", {})
    user["id"] = "bench-user"
    user["consent"] = tcf_core({1, 2, 3, 4, 7})
    request["regs"] = {"gdpr": 1}
    return json.dumps(request).encode()


def one(body: bytes, lookup: StaticLookup) -> bytes:
    request = parse(body)
    if decide(request, POLICY).allowed:
        outcome = apply_segments(request, lookup.lookup(identity_candidates(request)), PROVIDER)
        request = outcome.request
    return msgspec.json.encode(request)


def measure(bodies: list[bytes], rounds: int, lookup: StaticLookup) -> tuple[float, float, float]:
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for body in bodies:
            start = clock()
            one(body, lookup)
            samples.append((clock() - start) / 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)], sum(samples) / len(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    bodies = [fx.text for fx in requests(valid=True)]
    lookup = StaticLookup({"bench-user": SEGMENTS})
    full = [consented(b) for b in bodies]
    assert all(b"headwater.example" in one(b, lookup) for b in full)
    sizes = sorted(len(b) for b in full)
    print(f"fixtures: {len(bodies)} valid bid requests, {sizes[0]}-{sizes[-1]} bytes; rounds: {args.rounds}")
    for label, chosen in (("as sent (consent gates)", bodies), ("consented, known user", full)):
        measure(chosen, max(1, args.rounds // 10), lookup)  # warm-up
        p50, p99, mean = measure(chosen, args.rounds, lookup)
        print(f"{label:26s} p50 {p50:7.1f} us   p99 {p99:7.1f} us   mean {mean:7.1f} us")
    print("loadavg (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
