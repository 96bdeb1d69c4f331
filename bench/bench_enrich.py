"""The pure enrichment path (validate + consent + identity + enrich + encode) on the OpenRTB fixtures.

Per-request microseconds, p50 / p99, over every VALID bid request of the shared fixtures, each run
twice: as it comes (most are stopped by a consent gate: the cheap path) and with a granting TCF
consent string and a known user (the full path: decode, lookup in a dict, enrich, encode). The
issue's end-to-end target (p99 < 5 ms, >= 3,000 req/s) is measured on the HTTP endpoint later.

Then the decision log's cost: throughput (requests/s) of the handler's own sequence (the pipeline's
``enrich_body`` on one event loop, timing it, encoding the answer) over both sets together, with the
decision log off and on (``--decision-sample``, default 1: every decision; its task formats on the
loop, its thread writes and fdatasyncs the files in a temporary directory, and the final write
counts in the "on" time), run alternately ``--repeat`` times each, the garbage collector tuned as a
server worker tunes it. Prints requests/s and the process's CPU per request (the log's thread
included: the steadier figure on a shared machine). Target: a throughput drop of 10 % at most.

    .venv/bin/python bench/bench_enrich.py [--rounds 2000] [--throughput-rounds 800]
                                           [--repeat 6] [--decision-sample 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from tests.targeting.encoding import tcf_core
from tests.targeting.fixtures import requests

from headwater.decisions.writer import DecisionLog
from headwater.targeting.consent import ConsentPolicy, decide
from headwater.targeting.enrich import Segment, identity_candidates
from headwater.targeting.lookup import StaticLookup
from headwater.targeting.pipeline import EnrichSettings, apply_segments, enrich_body
from headwater.targeting.validate import parse
from headwater.wiring import tune_gc

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


async def serve(bodies: list[bytes], rounds: int, lookup: StaticLookup, log: DecisionLog | None) -> int:
    """What the HTTP handler does once it has the body: enrich, note the decision, encode; the
    bytes answered. The event loop gets a turn after each round (the server's loop runs between
    requests): that is when the decision log's task formats and hands lines to its thread."""
    settings = EnrichSettings(PROVIDER, POLICY, lookup_timeout_seconds=0.05)
    encode = msgspec.json.encode
    clock = time.perf_counter
    sent = 0
    if log is not None:
        await log.start()
    try:
        for _ in range(rounds):
            for body in bodies:
                begun = clock()
                outcome = await enrich_body(body, lookup, settings)
                if log is not None:
                    log.note(outcome, clock() - begun)
                sent += len(encode(outcome.request) if outcome.changed else body)
            await asyncio.sleep(0)
    finally:
        if log is not None:
            await log.stop()  # the last second's decisions are written too: their cost counts
    return sent


def throughput(
    bodies: list[bytes], rounds: int, lookup: StaticLookup, sample: float
) -> tuple[float, float, str]:
    """Requests per second (wall clock), CPU microseconds per request (the process's, the log's
    thread included) with the decision log off (sample 0) or on, and what the log wrote."""
    with tempfile.TemporaryDirectory(prefix="bench-decisions-") as tmp:
        log = DecisionLog(Path(tmp), "bench", sample) if sample > 0 else None
        started, cpu = time.perf_counter(), time.process_time()
        asyncio.run(serve(bodies, rounds, lookup, log))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        note = ""
        if log is not None:
            size = sum(p.stat().st_size for p in Path(tmp).iterdir())
            status = log.status()[1]
            note = f"  ({status['logged']} decisions, {size / 1e6:.1f} MB, {status['dropped']} dropped)"
    requests = len(bodies) * rounds
    return requests / elapsed, cpu / requests * 1e6, note


def decision_log_cost(bodies: list[bytes], args: argparse.Namespace, lookup: StaticLookup) -> None:
    print(
        f"decision log: {len(bodies)} requests x {args.throughput_rounds} rounds per run,"
        f" off / on (sample {args.decision_sample}) alternately, {args.repeat} runs each"
    )
    throughput(bodies, max(1, args.throughput_rounds // 10), lookup, 0.0)  # warm-up
    rates: dict[str, list[float]] = {"off": [], "on": []}
    cpus: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeat):
        for label, sample in (("off", 0.0), ("on", args.decision_sample)):
            rate, cpu, note = throughput(bodies, args.throughput_rounds, lookup, sample)
            rates[label].append(rate)
            cpus[label].append(cpu)
            print(f"  decision log {label:3s}  {rate:9,.0f} req/s  {cpu:6.2f} us CPU/req{note}")
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    cpu_off, cpu_on = statistics.median(cpus["off"]), statistics.median(cpus["on"])
    print(
        f"median: off {off:,.0f} req/s, on {on:,.0f} req/s, on/off {on / off:.3f}"
        f" ({(1 - on / off) * 100:+.1f} % throughput; target: a drop of 10 % at most)"
    )
    print(
        f"median CPU per request: off {cpu_off:.2f} us, on {cpu_on:.2f} us: +{cpu_on - cpu_off:.2f} us,"
        f" CPU-bound throughput on/off {cpu_off / cpu_on:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--throughput-rounds", type=int, default=800, help="rounds per throughput run")
    parser.add_argument("--repeat", type=int, default=6, help="throughput runs of each configuration")
    parser.add_argument(
        "--decision-sample", type=float, default=1.0, help="share of decisions logged in the 'on' runs"
    )
    parser.add_argument("--skip-latency", action="store_true", help="only the decision log's cost")
    args = parser.parse_args()
    if not 0 < args.decision_sample <= 1:
        parser.error("--decision-sample must be in (0, 1]")
    bodies = [fx.text for fx in requests(valid=True)]
    lookup = StaticLookup({"bench-user": SEGMENTS})
    full = [consented(b) for b in bodies]
    assert all(b"headwater.example" in one(b, lookup) for b in full)
    sizes = sorted(len(b) for b in full)
    print(f"fixtures: {len(bodies)} valid bid requests, {sizes[0]}-{sizes[-1]} bytes; rounds: {args.rounds}")
    print("loadavg (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if not args.skip_latency:
        for label, chosen in (("as sent (consent gates)", bodies), ("consented, known user", full)):
            measure(chosen, max(1, args.rounds // 10), lookup)  # warm-up
            p50, p99, mean = measure(chosen, args.rounds, lookup)
            print(f"{label:26s} p50 {p50:7.1f} us   p99 {p99:7.1f} us   mean {mean:7.1f} us")
    tune_gc()  # as a server worker runs
    decision_log_cost(bodies + full, args, lookup)
    print("loadavg (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
