"""The dashboard's first load over 90 days of demo data for 10,000 users (target: under 1.5 s).

Writes the data with `headwater demo` (a few minutes), starts `headwater serve`, and loads the
page in Debian's Chromium, timed from navigation start until every panel is drawn
(``window.headwaterFirstLoadMs``). Four cases, each in a fresh browser context (no HTTP cache)
and, but for "again", a fresh server:

- at_ready: the page opened the moment /readyz answers: the server is still replaying the log into
  its in-memory live and audience stores (~730k events, both cores busy) and computing the
  default view;
- cold: a server whose start-up is done (tailers caught up, default view computed by its warm-up),
  never visited, signed in by cookie;
- login: the same, through the login form with 3 s to type the token;
- again: a second visit (the answers cached until the lake or the recent log change).

Each case prints the breakdown: the HTML, the static files (first request to last answer), the
script's start, each API call (sent, answered), each panel's time, and the server's warm-up time.
The metric batch itself is also timed in this process (every default query computed from
nothing, the groups in parallel as the server does).

Usage: python bench/bench_dashboard.py [--users 10000] [--days 90] [--data DIR (kept, reused)]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.dashboard.browser import FLAGS, chromium_path, wait_ready
from tests.e2e.dashboard.support import wait_started
from tests.helpers import Server

TOKEN = "bench-dashboard-token-7c41e0"
RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"
BREAKDOWN_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource").map((e) => ({
    path: e.name.replace(location.origin, ""), start: Math.round(e.startTime), end: Math.round(e.responseEnd),
  }));
  const statics = res.filter((r) => r.path.startsWith("/dashboard/static/"));
  const first = window.headwaterFirstLoadMs;
  return {
    html_ms: Math.round(nav.responseEnd),
    static_files: statics.length,
    static_first_ms: Math.min(...statics.map((r) => r.start)),
    static_last_ms: Math.max(...statics.map((r) => r.end)),
    panels_ms: window.headwaterTimings,
    api_calls: res.filter((r) => !r.path.startsWith("/dashboard/static/") && r.start < first),
  };
}"""


def load_page(browser: Any, url: str, via_login: bool) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = ctx.new_page()
        if via_login:
            page.goto(url + "/dashboard/login")
            time.sleep(3)  # typing the token
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url("**/dashboard/")
            # time this navigation (the page after the form's redirect)
        else:
            ctx.add_cookies([{"name": "headwater_admin", "value": TOKEN, "url": url}])
            page.goto(url + "/dashboard/")
        wait_ready(page, timeout_ms=180_000)
        states = page.eval_on_selector_all("section.panel", "els => els.map(e => e.dataset.state)")
        assert all(s == "ready" for s in states), states  # every panel drawn with data
        out = {"first_load_ms": int(page.evaluate("window.headwaterFirstLoadMs"))}
        out.update(page.evaluate(BREAKDOWN_JS))
        return out
    finally:
        ctx.close()


def metric_batch_seconds(data: Path) -> dict[str, Any]:
    """The default view's metric batch computed from nothing in this process, as the server does."""
    from headwater.dashboard.metric_batch import MetricCache, groups, run_group
    from headwater.dashboard.warmup import default_queries

    tz = "UTC"
    shutil.rmtree(data / "run" / "dashboard-cache", ignore_errors=True)  # the servers' shared cache
    cache = MetricCache(data, tz)
    parts = groups(default_queries(tz))
    started = time.monotonic()
    cpu = time.process_time()
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(lambda part: run_group(cache, part), parts))
    return {
        "wall_s": round(time.monotonic() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "queries": sum(len(p) for p in parts),
        "groups": len(parts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    keep = args.data is not None
    data = args.data or Path(tempfile.mkdtemp(prefix="hw-bench-dash-")) / "data"
    if not (data / "lake").is_dir():
        started = time.monotonic()
        cli_timeout_demo(data, args.users, args.days)
        print(f"demo data: {args.users} users, {args.days} days in {time.monotonic() - started:.0f} s")
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {"users": args.users, "days": args.days, "target_ms": 1500}
    for run in ("metric_batch_fresh_process", "metric_batch"):  # the first one pays the imports
        load1 = os.getloadavg()[0]
        figures[run] = {**metric_batch_seconds(data), "loadavg_1m": round(max(load1, os.getloadavg()[0]), 2)}
        print(f"{run}, nothing cached: {figures[run]}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            for case in ("at_ready", "cold", "login", "again"):
                shutil.rmtree(data / "run" / "dashboard-cache", ignore_errors=True)
                srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
                srv.start(timeout=60)  # a fresh server: an empty cache, in memory and on disk
                try:
                    if case != "at_ready":
                        warm = wait_started(srv, timeout=600)["dashboard_warmup"]
                        figures[f"{case}_warmup_s"] = warm["last_seconds"]
                    if case == "again":
                        load_page(browser, srv.url, False)  # the first visit
                    load1 = os.getloadavg()[0]
                    found = load_page(browser, srv.url, case == "login")
                    found["loadavg_1m"] = round(max(load1, os.getloadavg()[0]), 2)
                    if case == "at_ready":  # let the start-up finish before stopping
                        warm = wait_started(srv, timeout=600)["dashboard_warmup"]
                        figures[f"{case}_warmup_s"] = warm["last_seconds"]
                finally:
                    srv.stop()
                figures[case] = found
                print(f"first load, {case}: {found['first_load_ms']} ms (load average {found['loadavg_1m']})")
                print("  " + json.dumps(found))
        finally:
            browser.close()
    figures["cpus"] = os.cpu_count()
    figures["note"] = "browser, server and load average share the same cores"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    if not keep:
        shutil.rmtree(data.parent, ignore_errors=True)


def cli_timeout_demo(data: Path, users: int, days: int) -> None:
    """`headwater demo` (the test helper's cli() stops at 60 s, too short for 10,000 users)."""
    import subprocess

    env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
    subprocess.run(
        [sys.executable, "-m", "headwater", "demo", "--users", str(users), "--days", str(days)],
        env=env,
        check=True,
        capture_output=True,
        timeout=1800,
    )


if __name__ == "__main__":
    main()
