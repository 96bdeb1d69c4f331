"""Cohorts benchmark (issue 19, item 6): computing a cohort's members over a lake of ``--events``
events, and a trend filtered by it.

The data: bench_lake_erase.py's lake (``--events`` log lines of 50,000 users over ``--days``
received days, loaded by the daily ETL), built once and kept with ``--data DIR``. Timed, with the
load average around each:

  rule     members of {"event": <the first event name>, "min_count": 170}: every person with at
           least 170 of those events in the whole history, evaluated per merged person (at 50M
           events a person has 167 of them on average: about half are members)
  static   members of a list of 5,000 user ids (each read as a userId and an anonymousId)
  trend    unique users of that event over the range, filtered by the rule cohort (its members
           computed already: one hash join)

The members are written under DIR/cohorts and removed at the end.

    .venv/bin/python bench/bench_cohorts.py [--events 2000000] [--days 90] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lake_erase import DAY0, EVENTS, build  # noqa: E402
from headwater.insights.cohort_spec import parse_cohort  # noqa: E402
from headwater.insights.cohorts import Cohorts, cohorts_dir, compute_members  # noqa: E402
from headwater.insights.trend import run_trend  # noqa: E402
from headwater.lake.params import MetricError  # noqa: E402
from headwater.stores.sql.cohorts import CohortCatalog  # noqa: E402


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument(
        "--data", type=Path, default=None, help="a data dir built by bench_lake_erase: reused, kept"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hw-bench-cohorts-"))
    data = args.data or work / "data"
    try:
        if not (data / "lake").is_dir():
            print(f"building {args.events:,} events over {args.days} days ...", flush=True)
            build(data, args.events, args.days)
        definitions: list[dict[str, Any]] = [
            {"id": "bench-rule", "rule": {"event": EVENTS[0], "min_count": 170}},
            {"id": "bench-static", "members": [f"user-{i:06d}" for i in range(0, 50_000, 10)]},
        ]
        url = f"sqlite:///{work / 'control.db'}"  # the cohorts' catalog, as a server's control plane
        with CohortCatalog(url) as catalog:
            for definition in definitions:
                catalog.put(definition)
        rule, static = (parse_cohort(d) for d in definitions)
        found = {}
        for name, cohort in (("rule", rule), ("static", static)):
            before, t = load(), time.monotonic()
            found[cohort.id] = compute_members(data, cohort)
            took = time.monotonic() - t
            print(f"  {name:<7} {took:6.1f} s  {found[cohort.id].count:,} members  load {before} -> {load()}")
        body = {
            "start": DAY0.isoformat(),
            "end": (DAY0 + timedelta(days=args.days - 1)).isoformat(),
            "interval": "range",
            "series": [{"event": EVENTS[0], "measure": "users"}],
            "filters": [{"type": "cohort", "name": rule.id, "op": "eq", "value": True}],
        }
        before, t = load(), time.monotonic()
        try:
            answer = run_trend(data, "UTC", body, Cohorts(data, url))  # the members just computed: reused
        except MetricError as exc:
            raise SystemExit(exc.message) from None
        print(
            f"  trend   {time.monotonic() - t:6.1f} s  {answer['rows'][0]['value']:,} users"
            f"  load {before} -> {load()}"
        )
    finally:
        for cohort_id in ("bench-rule", "bench-static"):
            (cohorts_dir(data) / f"{cohort_id}.parquet").unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
